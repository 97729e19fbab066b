#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// Builds and reads libmosquitto's MQTT v5 property lists (`mosquitto_property *`).
enum MQTTPropertyList {
    static let sessionExpiryInterval = identifier(MQTT_PROP_SESSION_EXPIRY_INTERVAL)
    static let responseTopic = identifier(MQTT_PROP_RESPONSE_TOPIC)
    static let correlationData = identifier(MQTT_PROP_CORRELATION_DATA)
    static let reasonString = identifier(MQTT_PROP_REASON_STRING)
    static let maximumPacketSize = identifier(MQTT_PROP_MAXIMUM_PACKET_SIZE)

    private static func identifier(_ value: mqtt5_property) -> Int32 { Int32(truncatingIfNeeded: value.rawValue) }

    /// CONNECT properties: the session expiry interval (MQTT v5, section 3.1.2.11.2) and, when set,
    /// the maximum packet size this client accepts (3.1.2.11.4).
    static func connect(sessionExpirySeconds: UInt32, maximumPacketSize: UInt32? = nil) -> OpaquePointer? {
        var list: OpaquePointer?
        var rc = mosquitto_property_add_int32(&list, sessionExpiryInterval, sessionExpirySeconds)
        if rc == MosquittoCode.success, let maximumPacketSize {
            rc = mosquitto_property_add_int32(&list, Self.maximumPacketSize, maximumPacketSize)
        }
        precondition(rc == MosquittoCode.success, "out of memory building CONNECT properties")
        return list
    }

    /// PUBLISH properties, or nil when there are none. The caller frees the list.
    static func publish(_ properties: MQTTMessageProperties, operation: String) throws(MQTTError) -> OpaquePointer? {
        guard !properties.isEmpty else { return nil }
        var list: OpaquePointer?
        if let topic = properties.responseTopic {
            let rc = mosquitto_property_add_string(&list, responseTopic, topic)
            if rc != MosquittoCode.success {
                mosquitto_property_free_all(&list)
                throw .invalidRequest(operation: operation, problem: "the response topic is not valid UTF-8")
            }
        }
        if let data = properties.correlationData {
            guard data.count <= Int(UInt16.max) else {
                mosquitto_property_free_all(&list)
                throw .invalidRequest(operation: operation, problem: "correlation data longer than 65535 bytes")
            }
            let rc = data.withUnsafeBytes { mosquitto_property_add_binary(&list, correlationData, $0.baseAddress, UInt16(data.count)) }
            precondition(rc == MosquittoCode.success, "out of memory building PUBLISH properties")
        }
        return list
    }

    /// The properties of a received PUBLISH.
    static func messageProperties(_ list: OpaquePointer?) -> MQTTMessageProperties {
        MQTTMessageProperties(responseTopic: string(list, responseTopic), correlationData: binary(list, correlationData))
    }

    static func string(_ list: OpaquePointer?, _ identifier: Int32) -> String? {
        guard let list else { return nil }
        var value: UnsafeMutablePointer<CChar>?
        guard mosquitto_property_read_string(list, identifier, &value, false) != nil, let value else { return nil }
        defer { free(value) }
        return String(cString: value)
    }

    static func binary(_ list: OpaquePointer?, _ identifier: Int32) -> [UInt8]? {
        guard let list else { return nil }
        var value: UnsafeMutableRawPointer?
        var length: UInt16 = 0
        guard mosquitto_property_read_binary(list, identifier, &value, &length, false) != nil else { return nil }
        defer { free(value) }
        guard let value, length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: value, count: Int(length)))
    }
}
