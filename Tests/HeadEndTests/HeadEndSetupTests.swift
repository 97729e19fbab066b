import ConcentratorCore
import Foundation
@testable import HeadEnd
import KeyFiles
import MQTT
import Platform
import Testing
import TestSupport
import Wire

@Suite("Head-end configuration and keys")
struct HeadEndSetupTests {
    static let validConfiguration = """
        {
          "broker": {"host": "broker.example", "port": 8883, "clientId": "headend-1", "username": "headend",
                     "passwordFile": "/etc/headend/mqtt.pass", "tls": {"caFile": "/etc/headend/ca.crt"}},
          "topicPrefix": "concentrator/v1",
          "sharedSubscriptionGroup": "headends",
          "database": "/var/lib/headend/headend.sqlite",
          "keys": {"sealing": ["/etc/headend/keys/sealing-new.key", "/etc/headend/keys/sealing-old.key"],
                   "ack": "/etc/headend/keys/ack.key"},
          "ingest": {"maximumBodyBytes": 1048576, "registryPollSeconds": 5}
        }
        """

    @Test("a complete headend.json is read into the configuration")
    func validConfiguration() throws {
        let c = try HeadEndConfigurationLoader.load(text: Self.validConfiguration, source: "headend.json")
        #expect(c.broker.host == "broker.example" && c.broker.port == 8883 && c.broker.clientID == "headend-1")
        #expect(c.broker.username == "headend" && c.broker.passwordFile == "/etc/headend/mqtt.pass")
        #expect(c.broker.tls?.caFile == "/etc/headend/ca.crt")
        #expect(c.sealingKeyFiles == ["/etc/headend/keys/sealing-new.key", "/etc/headend/keys/sealing-old.key"])
        #expect(c.ackKeyFile == "/etc/headend/keys/ack.key")
        #expect(c.databasePath == "/var/lib/headend/headend.sqlite")
        #expect(c.ingest.maximumBodyBytes == 1_048_576 && c.ingest.registryPollSeconds == 5)
        #expect(c.subscriptionFilter(leaf: "batch") == "$share/headends/concentrator/v1/+/batch")
        #expect(c.subscriptionFilter(leaf: "event") == "$share/headends/concentrator/v1/+/event")
        // Retained status documents are only delivered to non-shared subscriptions (MQTT 5.0 §4.8.2).
        #expect(c.subscriptionFilter(leaf: "status") == "concentrator/v1/+/status")
    }

    @Test("every problem of a bad headend.json is listed with its JSON path")
    func everyProblemListed() throws {
        let text = """
            {
              "broker": {"host": "broker.example", "password": "secret"},
              "topicPrefix": "concentrator/+/v1",
              "sharedSubscriptionGroup": "a/b",
              "database": "headend.sqlite",
              "keys": {"sealing": []},
              "ingest": {"maximumBodyBytes": 10, "colour": "blue"},
              "extra": true
            }
            """
        let failure = try #require(throws: ValidationFailure.self) { try HeadEndConfigurationLoader.load(text: text, source: "h.json") }
        let paths = Set(failure.issues.map(\.path))
        for expected in ["$.broker.password", "$.broker.clientId", "$.topicPrefix", "$.sharedSubscriptionGroup", "$.database",
                         "$.keys.sealing", "$.keys.ack", "$.ingest.maximumBodyBytes", "$.ingest.colour", "$.extra"] {
            #expect(paths.contains(expected), "no issue for \(expected): \(failure)")
        }
        #expect(!failure.description.contains("secret"))
        #expect(throws: ValidationFailure.self) { try HeadEndConfigurationLoader.load(text: "{", source: "h.json") }
    }

    @Test("keys generate writes private files 0600 in a 0700 directory and public documents the devices can load")
    func generateKeys() throws {
        let dir = TemporaryDirectory("headend-keys")
        let keyDirectory = HeadEndKeyDirectory(path: dir.file("keys"))
        let generated = try keyDirectory.generate()
        #expect(generated.map(\.role) == [.sealing, .ack, .reader, .operator, .admin])
        #expect(FileSystem.mode(keyDirectory.path) == 0o700)
        for key in generated {
            #expect(FileSystem.mode(key.privateKeyPath) == 0o600)
            let document = try PublicKeyDocument.load(path: key.publicDocumentPath)
            #expect(document.role == key.role.rawValue && document.algorithm == key.role.algorithm && document.id == key.id)
            #expect(key.fingerprint.hasPrefix("sha256:" + key.id.hex))
            #expect(try !FileSystem.readText(key.publicDocumentPath).contains("secret"))
        }
        let sealing = generated.filter { $0.role == .sealing }, ack = generated.filter { $0.role == .ack }
        let keys = try HeadEndPrivateKeys.load(sealingKeyFiles: sealing.map(\.privateKeyPath), ackKeyFile: ack[0].privateKeyPath)
        #expect(keys.sealingKeys.map(\.id) == sealing.map(\.id) && keys.ackKey.id == ack[0].id)
        // What a device's uplink.headEndKeys lists: the sealing document and the public keys with roles.
        let deviceView = try HeadEndKeys.load(paths: generated.map(\.publicDocumentPath))
        #expect(deviceView.sealingKey.id == sealing[0].id)
        #expect(deviceView.keys(withRole: "ack").map(\.id) == [ack[0].id])
        #expect(deviceView.keys(withRole: "admin").count == 1)
        // Rotation: a second sealing key beside the first; both load.
        let rotated = try keyDirectory.generate(roles: [.sealing])
        let both = try HeadEndPrivateKeys.load(sealingKeyFiles: (sealing + rotated).map(\.privateKeyPath), ackKeyFile: ack[0].privateKeyPath)
        #expect(Set(both.sealingKeys.map(\.id)).count == 2)
        #expect(!both.description.contains(Hex.encode(both.sealingKeys[0].publicKey.rawRepresentation)))
    }

    @Test("a private key file readable by others is refused")
    func insecureKeyFile() throws {
        let dir = TemporaryDirectory("headend-keys")
        try PrivateKeyFile.write(Keys.ack, to: dir.file("ack.key"))
        try PrivateKeyFile.write(Keys.sealing, to: dir.file("sealing.key"))
        chmod(dir.file("ack.key"), 0o644)
        #expect(throws: KeyFileError.insecurePermissions(path: dir.file("ack.key"), mode: 0o644)) {
            try HeadEndPrivateKeys.load(sealingKeyFiles: [dir.file("sealing.key")], ackKeyFile: dir.file("ack.key"))
        }
    }

    @Test("the broker password and PSK come from private files; their content never shows")
    func secretFiles() throws {
        let dir = TemporaryDirectory("headend-secrets")
        try FileSystem.writeAtomically("s3cr3t-pass\n", to: dir.file("pass"), mode: 0o600)
        try FileSystem.writeAtomically("00112233445566778899aabbccddeeff\n", to: dir.file("psk"), mode: 0o600)
        let broker = BrokerSettings(host: "127.0.0.1", port: 8883, clientID: "headend-1", username: "headend", passwordFile: dir.file("pass"),
                                    tls: BrokerTLSSettings(pskIdentity: "headend", pskFile: dir.file("psk")))
        let settings = try MQTTClientSettings(broker: broker, clientID: "headend-1")
        #expect(settings.password == MQTTSecret("s3cr3t-pass"))
        #expect(settings.tls?.preSharedKey?.keyHex == MQTTSecret("00112233445566778899aabbccddeeff"))
        #expect(!settings.description.contains("s3cr3t"))
        chmod(dir.file("pass"), 0o640)
        let error = try #require(throws: SecretFileError.self) { try MQTTClientSettings(broker: broker, clientID: "headend-1") }
        #expect(error.description.contains("chmod 600") && !error.description.contains("s3cr3t"))
    }

    @Test("status documents: version 1 with device and state is read; anything else is no document")
    func statusDocuments() {
        let doc = UplinkStatusDocument.parse(Array(#"{"v":1,"device":"gw-0001","state":"offline","unexpected":true}"#.utf8))
        #expect(doc == UplinkStatusDocument(device: "gw-0001", state: "offline", unexpected: true))
        #expect(UplinkStatusDocument.parse(UplinkStatusDocument(device: "gw-0001", state: "online").encoded())?.state == "online")
        #expect(UplinkStatusDocument.parse([]) == nil)
        #expect(UplinkStatusDocument.parse(Array(#"{"v":2,"device":"gw-0001","state":"online"}"#.utf8)) == nil)
        #expect(UplinkStatusDocument.parse(Array(#"{"v":1,"device":"gw-0001","state":"asleep"}"#.utf8)) == nil)
        #expect(UplinkStatusDocument.parse(Array("not json".utf8)) == nil)
    }

    @Test("the registry refuses keys of another device or role and needs a signing key")
    func registryChecks() throws {
        let dir = TemporaryDirectory("headend-registry")
        let database = try HeadEndDatabase.open(path: dir.file("h.sqlite"))
        defer { database.close() }
        #expect(FileSystem.mode(dir.file("h.sqlite")) == 0o600)
        #expect(throws: HeadEndError.self) {
            try database.registerDevice("gw-0002", keys: Keys.deviceDocuments, at: Content.firstHour)
        }
        #expect(throws: HeadEndError.self) {
            try database.registerDevice("gw-0001", keys: [PublicKeyDocument(Keys.ack.publicKey, role: "ack")], at: Content.firstHour)
        }
        #expect(throws: HeadEndError.self) {
            try database.registerDevice("gw-0001", keys: [Keys.deviceDocuments[1]], at: Content.firstHour)
        }
        #expect(try database.devices().isEmpty)
        let version = try database.registryVersion()
        #expect(try database.registerDevice("gw-0001", keys: Keys.deviceDocuments, at: Content.firstHour).count == 2)
        #expect(try database.registerDevice("gw-0001", keys: Keys.deviceDocuments, at: Content.firstHour).isEmpty)
        #expect(try database.registryVersion() > version)
        #expect(try database.devices().first?.keys.map(\.id) == Keys.deviceDocuments.map(\.id))
        #expect(try database.signingKeyDirectory().signingKeys(ofDevice: "gw-0001") == [Keys.deviceSigning.publicKey])
        #expect(try database.revokeKey(Keys.deviceSigning.id, ofDevice: "gw-0001"))
        #expect(try database.signingKeyDirectory().signingKeys(ofDevice: "gw-0001") == nil)
        #expect(try database.unregisterDevice("gw-0001"))
        #expect(try database.devices().first?.registered == false)
    }
}
