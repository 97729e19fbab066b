@testable import MQTT
import Testing

@Suite struct MQTTClientSettingsTests {
    private func settings() -> MQTTClientSettings {
        MQTTClientSettings(host: "broker.example", port: 8883, clientID: "gw-1", username: "gw-1",
                           password: MQTTSecret("hunter2-secret"),
                           tls: MQTTTLSSettings(caFile: "/etc/concentrator/ca.pem"))
    }

    @Test func defaultsKeepTheSessionAndVerifyTheHostName() {
        let value = settings()
        #expect(!value.cleanStart)
        #expect(value.sessionExpirySeconds > 0)
        #expect(value.tls?.insecureSkipHostnameVerification == false)
        #expect(value.reconnect == MQTTReconnectPolicy(initialDelay: .seconds(1), maxDelay: .seconds(60), jitterFraction: 0.2))
    }

    @Test func secretsNeverAppearInDescriptionsOrDumps() {
        var value = settings()
        value.tls = MQTTTLSSettings(preSharedKey: MQTTPreSharedKey(identity: "gw-1", keyHex: MQTTSecret("a1b2c3d4")))
        var dumped = ""
        dump(value, to: &dumped)
        for text in [value.description, String(describing: value), String(reflecting: value), dumped] {
            #expect(!text.contains("hunter2-secret"))
            #expect(!text.contains("a1b2c3d4"))
        }
        #expect(value.description.contains("broker.example:8883"))
        #expect(value.description.contains("(password set)"))
    }

    /// One way to break the settings, and the field the error must name.
    enum Breakage: CaseIterable, Sendable {
        case shortKeepalive, emptyHost, emptyClientID, passwordWithoutUser, jitterTooLarge, maxBelowInitial
        case wildcardWill, tlsWithoutCA, certificateWithoutKey, pskWithCertificates, pskNotHex

        var field: String {
            switch self {
            case .shortKeepalive: "keepaliveSeconds"
            case .emptyHost: "host"
            case .emptyClientID: "clientID"
            case .passwordWithoutUser: "password"
            case .jitterTooLarge: "reconnect.jitterFraction"
            case .maxBelowInitial: "reconnect.maxDelay"
            case .wildcardWill: "will.topic"
            case .tlsWithoutCA: "tls.caFile"
            case .certificateWithoutKey: "tls.keyFile"
            case .pskWithCertificates: "tls.preSharedKey"
            case .pskNotHex: "tls.preSharedKey.keyHex"
            }
        }

        func apply(to s: inout MQTTClientSettings) {
            switch self {
            case .shortKeepalive: s.keepaliveSeconds = 2
            case .emptyHost: s.host = ""
            case .emptyClientID: s.clientID = ""
            case .passwordWithoutUser: s.username = nil
            case .jitterTooLarge: s.reconnect.jitterFraction = 1.5
            case .maxBelowInitial: s.reconnect.maxDelay = .milliseconds(10)
            case .wildcardWill: s.will = MQTTWill(topic: "status/#", payload: [])
            case .tlsWithoutCA: s.tls = MQTTTLSSettings()
            case .certificateWithoutKey: s.tls?.certificateFile = "/c.pem"
            case .pskWithCertificates: s.tls?.preSharedKey = MQTTPreSharedKey(identity: "gw", keyHex: MQTTSecret("0011"))
            case .pskNotHex:
                s.tls = MQTTTLSSettings(preSharedKey: MQTTPreSharedKey(identity: "gw", keyHex: MQTTSecret("xyz-secret")))
            }
        }
    }

    @Test(arguments: Breakage.allCases)
    func invalidSettingsNameTheField(_ breakage: Breakage) {
        var value = settings()
        breakage.apply(to: &value)
        #expect {
            try value.validate()
        } throws: { error in
            guard case .invalidSettings(let reported, let problem) = error as? MQTTError else { return false }
            return reported == breakage.field && !problem.contains("xyz-secret") && !problem.contains("hunter2-secret")
        }
    }

    @Test func validSettingsPass() throws {
        try settings().validate()
    }
}
