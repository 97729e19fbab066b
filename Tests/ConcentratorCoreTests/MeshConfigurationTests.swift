import Testing
@testable import ConcentratorCore

private typealias F = ConfigurationFixtures

/// The `mesh` section (Docs/configuration.md, "mesh").
@Suite struct MeshConfigurationTests {
    @Test func aFullSectionLoadsWithItsValues() throws {
        let text = F.document(extra: #"""
            "mesh": {"networkKeyFile": "/var/lib/concentrator/keys/mesh.key", "keyEpoch": 3, "gateway": "never",
                     "beaconIntervalSeconds": 300, "ttl": 8, "relayQueue": {"maxMessages": 500, "maxBytes": 1048576},
                     "udp": [{"name": "lan", "bindAddress": "192.168.1.10", "port": 47801, "peers": ["192.168.1.255:47801"]}],
                     "radios": [{"port": "/dev/ttyUSB0", "spreadingFactor": 9, "bandwidthKHz": 250, "codingRate": 2, "powerDbm": 10}]}
            """#)
        let config = try ConfigurationLoader.load(text: text, source: "test.json", context: F.context)
        let mesh = try #require(config.mesh)
        #expect(mesh.networkKeyFile == "/var/lib/concentrator/keys/mesh.key" && mesh.keyEpoch == 3 && mesh.gateway == .never)
        #expect(mesh.beaconIntervalSeconds == 300 && mesh.ttl == 8 && mesh.relayQueueMaxMessages == 500 && mesh.relayQueueMaxBytes == 1_048_576)
        #expect(mesh.udp == [MeshSettings.UDPLink(name: "lan", bindAddress: "192.168.1.10", port: 47_801, peers: ["192.168.1.255:47801"])])
        #expect(mesh.radios == [MeshSettings.RadioLink(name: "lora0", port: "/dev/ttyUSB0", spreadingFactor: 9, bandwidthKHz: 250,
                                                       codingRate: 2, powerDbm: 10)])
    }

    @Test func defaultsAndAbsence() throws {
        let none = try ConfigurationLoader.load(text: F.document(), source: "test.json", context: F.context)
        #expect(none.mesh == nil)
        let text = F.document(extra: #""mesh": {"networkKeyFile": "/k/mesh.key", "udp": [{}]}"#)
        let mesh = try #require(try ConfigurationLoader.load(text: text, source: "test.json", context: F.context).mesh)
        #expect(mesh.enabled && mesh.gateway == .auto && mesh.beaconIntervalSeconds == 60 && mesh.ttl == 24 && mesh.keyEpoch == 0)
        #expect(mesh.udp == [MeshSettings.UDPLink()])
    }

    @Test(arguments: [
        (#""mesh": {"udp": [{}]}"#, "$.mesh.networkKeyFile", "missing required key"),
        (#""mesh": {"networkKeyFile": "relative.key", "udp": [{}]}"#, "$.mesh.networkKeyFile", nil),
        (#""mesh": {"networkKeyFile": "/k"}"#, "$.mesh.udp", "an enabled mesh needs a link"),
        (#""mesh": {"networkKeyFile": "/k", "udp": [{"peers": ["300.1.1.1:5"]}]}"#, "$.mesh.udp[0].peers[0]", "not an IPv4 address and port"),
        (#""mesh": {"networkKeyFile": "/k", "udp": [{"bindAddress": "localhost"}]}"#, "$.mesh.udp[0].bindAddress", "not an IPv4 address"),
        (#""mesh": {"networkKeyFile": "/k", "radios": [{"port": "/dev/ttyUSB0", "spreadingFactor": 13}]}"#, "$.mesh.radios[0].spreadingFactor", "out of range"),
        (#""mesh": {"networkKeyFile": "/k", "gateway": "always", "udp": [{}]}"#, "$.mesh.gateway", "not one of the allowed values"),
        (#""mesh": {"networkKeyFile": "/k", "udp": [{}], "key": "00"}"#, "$.mesh.key", "unknown key"),
    ] as [(String, String, String?)])
    func badSectionsNameThePathAndTheProblem(extra: String, path: String, problem: String?) throws {
        let issues = try #require(F.issues(F.document(extra: extra)), "accepted: \(extra)")
        let issue = try #require(issues.first { $0.path == path }, "\(issues)")
        if let problem { #expect(issue.problem == problem) }
    }
}
