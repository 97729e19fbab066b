import Foundation
@testable import MQTT
import Testing
import TestSupport

/// TLS against mosquitto with certificates made by openssl in the test's directory.
@Suite(.timeLimit(.minutes(1)))
struct MQTTTLSTests {
    /// A TLS broker with its certificates; the certificate directory lives as long as the fixture.
    struct Fixture {
        let broker: MosquittoBroker
        let certificates: TestCertificates
        let directory: TemporaryDirectory
    }

    private func tlsBroker(requireClientCertificate: Bool) async throws -> Fixture {
        let directory = TemporaryDirectory("mqtt-certs")
        let certificates = try await TestCertificates.generate(in: directory)
        var configuration = MosquittoBroker.Configuration()
        configuration.certificates = certificates
        configuration.requireClientCertificate = requireClientCertificate
        return Fixture(broker: try await MosquittoBroker(configuration), certificates: certificates, directory: directory)
    }

    @Test func verifiedTLSWithClientCertificateConnectsAndPublishes() async throws {
        let fixture = try await tlsBroker(requireClientCertificate: true)
        let certificates = fixture.certificates
        var settings = testSettings(fixture.broker.port, clientID: "tls-dev")
        settings.tls = MQTTTLSSettings(caFile: certificates.caFile, certificateFile: certificates.clientCertificate,
                                       keyFile: certificates.clientKey)
        let device = try await startClient(settings)
        try await device.client.subscribe(filter: "tls/echo")
        let receipt = try await device.client.publish(topic: "tls/echo", payload: [0, 1, 2, 0])
        #expect(receipt.reasonCode == 0)
        let echoed = await device.messages.wait { !$0.isEmpty }
        #expect(echoed)
        #expect(device.messages.all.first?.payload == [0, 1, 2, 0])
        await device.client.stop()
    }

    @Test func wrongCAIsATLSErrorThatSaysWhatToCheck() async throws {
        let fixture = try await tlsBroker(requireClientCertificate: false)
        let certificates = fixture.certificates
        var settings = testSettings(fixture.broker.port, clientID: "tls-wrong-ca")
        settings.tls = MQTTTLSSettings(caFile: certificates.otherCAFile)
        let device = try await startClient(settings, expectConnection: false)
        let failed = await device.events.wait { $0.contains(where: \.isConnectFailure) }
        #expect(failed)
        let problem = try #require(device.events.all.first?.failure)
        #expect(problem.kind == .tlsFailed, "\(problem)")
        #expect(problem.detail.contains("certificate verify failed"), "OpenSSL's reason is kept: \(problem.detail)")
        #expect(problem.hint.contains(certificates.otherCAFile))
        #expect(!device.client.isConnected)
        // TLS failures are retried like any other: the broker's certificate may be fixed later.
        let retried = await device.events.wait { $0.filter(\.isConnectFailure).count >= 2 }
        #expect(retried)
        await device.client.stop()
    }

    @Test func missingClientCertificateIsRefusedByTheBroker() async throws {
        let fixture = try await tlsBroker(requireClientCertificate: true)
        var settings = testSettings(fixture.broker.port, clientID: "tls-no-cert")
        settings.tls = MQTTTLSSettings(caFile: fixture.certificates.caFile)
        let device = try await startClient(settings, expectConnection: false)
        let failed = await device.events.wait { $0.contains(where: \.isConnectFailure) }
        #expect(failed)
        let problem = try #require(device.events.all.first?.failure)
        #expect(problem.kind == .tlsFailed || problem.kind == .connectionLost, "\(problem)")
        await device.client.stop()
    }

    @Test func unreadableCAFileIsASettingsError() throws {
        var settings = testSettings(1883, clientID: "tls-missing")
        settings.tls = MQTTTLSSettings(caFile: "/nonexistent/ca.crt")
        let client = MQTTClient(settings: settings, logger: testLogger("tls-missing"))
        #expect {
            try client.start()
        } throws: { error in
            guard case .invalidSettings(let field, let problem) = error as? MQTTError else { return false }
            return field == "tls.caFile" && problem.contains("/nonexistent/ca.crt")
        }
    }

    @Test func preSharedKeyConnects() async throws {
        var configuration = MosquittoBroker.Configuration()
        configuration.preSharedKeys = ["gw-0042": "00112233445566778899aabbccddeeff"]
        let broker = try await MosquittoBroker(configuration)
        var settings = testSettings(broker.port, clientID: "psk-dev")
        settings.tls = MQTTTLSSettings(preSharedKey: MQTTPreSharedKey(identity: "gw-0042",
                                                                      keyHex: MQTTSecret("00112233445566778899aabbccddeeff")))
        let device = try await startClient(settings)
        let receipt = try await device.client.publish(topic: "psk/hello", payload: [1])
        #expect(receipt.reasonCode < 0x80)
        #expect(!settings.description.contains("00112233"))
        await device.client.stop()
    }
}
