#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// libmosquitto's return codes as Swift integers.
enum MosquittoCode {
    static let success = code(MOSQ_ERR_SUCCESS)
    static let noConnection = code(MOSQ_ERR_NO_CONN)
    static let invalid = code(MOSQ_ERR_INVAL)
    static let protocolError = code(MOSQ_ERR_PROTOCOL)
    static let connectionLost = code(MOSQ_ERR_CONN_LOST)
    static let tls = code(MOSQ_ERR_TLS)
    static let tlsHandshake = code(MOSQ_ERR_TLS_HANDSHAKE)
    static let payloadSize = code(MOSQ_ERR_PAYLOAD_SIZE)
    static let oversizePacket = code(MOSQ_ERR_OVERSIZE_PACKET)
    static let malformedUTF8 = code(MOSQ_ERR_MALFORMED_UTF8)
    static let qosNotSupported = code(MOSQ_ERR_QOS_NOT_SUPPORTED)
    static let errno = code(MOSQ_ERR_ERRNO)
    static let addressLookup = code(MOSQ_ERR_EAI)
    static let lookup = code(MOSQ_ERR_LOOKUP)
    static let keepalive = code(MOSQ_ERR_KEEPALIVE)

    private static func code(_ value: mosq_err_t) -> Int32 { Int32(truncatingIfNeeded: value.rawValue) }

    /// libmosquitto's text for an error code.
    static func message(_ code: Int32) -> String { String(cString: mosquitto_strerror(code)) }

    /// The standard name of an MQTT v5 reason code ("Not authorized").
    static func reasonName(_ code: Int) -> String { String(cString: mosquitto_reason_string(Int32(code))) }
}

/// Turns libmosquitto results and MQTT v5 reason codes into problems that say what to check.
/// Nothing here ever sees the password: only codes, errno and libmosquitto's log text.
struct MQTTDiagnosis {
    let settings: MQTTClientSettings

    private var broker: String { settings.brokerAddress }

    /// A CONNACK with a reason code ≥ 0x80 (MQTT v5, section 3.2.2.2).
    func connectRefused(reasonCode: Int, reasonString: String?) -> MQTTConnectionProblem {
        let name = MosquittoCode.reasonName(reasonCode)
        let detail = "CONNACK reason code 0x\(mqttHexByte(UInt8(truncatingIfNeeded: reasonCode))) (\(name))"
            + (reasonString.map { ": \($0)" } ?? "")
        let user = settings.username.map { "'\($0)'" } ?? "(none)"
        switch reasonCode {
        case 0x86:
            return problem(.badCredentials, reasonCode, detail,
                           "the username \(user) and the password in the uplink settings (the password is not shown)")
        case 0x87:
            return problem(.notAuthorized, reasonCode, detail,
                           "the username \(user) and the password (mosquitto answers 0x87 to a wrong password too; "
                           + "the password is not shown), and that the broker allows client id '\(settings.clientID)'")
        case 0x85:
            return problem(.refusedByBroker, reasonCode, detail,
                           "the client id '\(settings.clientID)' against the broker's client id rules")
        case 0x84:
            return problem(.refusedByBroker, reasonCode, detail, "that the broker supports MQTT v5 (mosquitto 1.6 or newer)")
        case 0x8A:
            return problem(.notAuthorized, reasonCode, detail, "the broker's ban list for this client")
        case 0x8C:
            return problem(.badCredentials, reasonCode, detail, "the broker's authentication method")
        case 0x88, 0x89, 0x97, 0x9F:
            return problem(.refusedByBroker, reasonCode, detail, "the broker's load and limits; the client retries with backoff")
        default:
            return problem(.refusedByBroker, reasonCode, detail, "the broker's log for client id '\(settings.clientID)'")
        }
    }

    /// A DISCONNECT sent by the broker (reason code ≥ 0x80, MQTT v5 section 3.14.2.1).
    func disconnectedByBroker(reasonCode: Int) -> MQTTConnectionProblem {
        let detail = "DISCONNECT reason code 0x\(mqttHexByte(UInt8(truncatingIfNeeded: reasonCode))) "
            + "(\(MosquittoCode.reasonName(reasonCode)))"
        switch reasonCode {
        case 0x8E:
            return problem(.disconnectedByBroker, reasonCode, detail,
                           "that no other device uses client id '\(settings.clientID)'")
        case 0x8B:
            return problem(.disconnectedByBroker, reasonCode, detail, "nothing: the broker is shutting down; the client reconnects")
        case 0x8D:
            return problem(.keepaliveTimeout, reasonCode, detail, "the network path to the broker")
        case 0x87:
            return problem(.notAuthorized, reasonCode, detail, "the broker's ACL for this client")
        default:
            return problem(.disconnectedByBroker, reasonCode, detail, "the broker's log for client id '\(settings.clientID)'")
        }
    }

    /// A libmosquitto failure: a connect call's result, or why the network loop ended.
    /// `libraryLog` is libmosquitto's last error line (it carries OpenSSL's reason for TLS failures).
    func libraryFailure(code: Int32, errnoValue: Int32, libraryLog: String?) -> MQTTConnectionProblem {
        let message = MosquittoCode.message(code)
        switch code {
        case MosquittoCode.errno:
            let text = String(cString: strerror(errnoValue))
            switch errnoValue {
            case ECONNREFUSED:
                return problem(.brokerUnreachable, Int(code), "connection refused (\(text))",
                               "that the broker runs and listens on \(broker), and that no firewall rejects the port")
            case ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ENETDOWN:
                return problem(.brokerUnreachable, Int(code), text,
                               "the network link (modem, Ethernet, routes) and the broker address \(broker)")
            case EPROTO:
                return problem(.tlsFailed, Int(code), libraryLog ?? text, tlsHint)
            default:
                return problem(.brokerUnreachable, Int(code), text, "the network link and the broker address \(broker)")
            }
        case MosquittoCode.addressLookup, MosquittoCode.lookup:
            return problem(.hostNotFound, Int(code), "could not resolve '\(settings.host)' (\(message))",
                           "the host name, the DNS servers and that the network link is up")
        case MosquittoCode.tls, MosquittoCode.tlsHandshake:
            return problem(.tlsFailed, Int(code), libraryLog ?? message, tlsHint)
        case MosquittoCode.keepalive:
            return problem(.keepaliveTimeout, Int(code),
                           "no answer from the broker within the keepalive of \(settings.keepaliveSeconds) s",
                           "the network path to the broker; the client reconnects")
        case MosquittoCode.connectionLost, MosquittoCode.noConnection:
            return problem(.connectionLost, Int(code), "the connection was closed (\(message))",
                           "whether the broker restarted or the network dropped; the client reconnects")
        default:
            return problem(.protocolError, Int(code), libraryLog.map { "\(message): \($0)" } ?? message,
                           "the broker's log for client id '\(settings.clientID)'")
        }
    }

    /// The client itself ended the connection (`stop`).
    func stoppedByClient() -> MQTTConnectionProblem {
        problem(.stoppedByClient, nil, "the client was stopped", "")
    }

    private var tlsHint: String {
        if settings.tls?.preSharedKey != nil {
            return "the PSK identity and key against the broker's psk_file"
        }
        return "that the CA file \(settings.tls?.caFile ?? "-") signed the broker's certificate, that the certificate "
            + "names '\(settings.host)', that the system clock is right (certificates have validity dates), "
            + "and the client certificate and key"
    }

    private func problem(_ kind: MQTTConnectionProblem.Kind, _ code: Int?, _ detail: String,
                         _ hint: String) -> MQTTConnectionProblem {
        MQTTConnectionProblem(kind: kind, broker: broker, code: code, detail: detail, hint: hint)
    }

    /// Maps a failed publish or subscribe call (before anything was sent) to a typed error.
    func callFailure(code: Int32, operation: String, payloadSize: Int) -> MQTTError {
        switch code {
        case MosquittoCode.noConnection:
            return .notConnected(broker: broker)
        case MosquittoCode.invalid:
            return .invalidRequest(operation: operation,
                                   problem: "invalid topic or filter (empty, wildcard in a topic name, or a bad '#' or '+')")
        case MosquittoCode.malformedUTF8:
            return .invalidRequest(operation: operation, problem: "the topic is not valid UTF-8")
        case MosquittoCode.payloadSize, MosquittoCode.oversizePacket:
            return .invalidRequest(operation: operation,
                                   problem: "the payload of \(payloadSize) bytes is larger than the broker accepts")
        case MosquittoCode.qosNotSupported:
            return .invalidRequest(operation: operation, problem: "the broker does not support this QoS")
        default:
            return .library(operation: operation, code: code, message: MosquittoCode.message(code))
        }
    }
}
