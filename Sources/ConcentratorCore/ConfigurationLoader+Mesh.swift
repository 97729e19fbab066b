/// The `mesh` section: network key, role, timers, relay-queue bounds and the links (Docs/configuration.md, "mesh").
extension ConfigurationLoader {
    static let meshBeaconIntervalRange = 2...3600
    static let meshTTLRange = 2...64
    static let meshQueueMessagesRange = 16...100_000
    static let meshQueueBytesRange = 65_536...268_435_456
    static let meshLinkCountRange = 0...4
    static let meshPeerCountRange = 0...64
    static let loraFrequencyRange = 433_050_000...928_000_000
    static let loraPowerRange = -3...15

    static func readMesh(_ input: ConfigurationSectionInput, into draft: inout ConfigurationDraft) {
        guard let r = input.object() else { return }
        let enabled = r.bool("enabled") ?? true
        let keyFile = absolutePath(r, "networkKeyFile", required: true)
        let epoch = r.int("keyEpoch", in: 0...255) ?? 0
        let previous = absolutePath(r, "previousNetworkKeyFile", required: false)
        let role = r.string("gateway", allowed: MeshSettings.GatewayRole.allCases.map(\.rawValue)).flatMap(MeshSettings.GatewayRole.init) ?? .auto
        let beacon = r.int("beaconIntervalSeconds", in: meshBeaconIntervalRange) ?? 60
        let ttl = r.int("ttl", in: meshTTLRange) ?? 24
        var maxMessages = 2_048
        var maxBytes = 8 << 20
        if let q = r.object("relayQueue") {
            maxMessages = q.int("maxMessages", in: meshQueueMessagesRange) ?? maxMessages
            maxBytes = q.int("maxBytes", in: meshQueueBytesRange) ?? maxBytes
            q.finish()
        }
        var udp: [MeshSettings.UDPLink] = []
        if let items = r.array("udp") {
            checkCount(items.count, meshLinkCountRange, noun: "UDP links", path: r.path + ".udp", line: r.member("udp")?.line, collector: r.collector)
            for (i, o) in objects(items, collector: r.collector).enumerated() {
                if let link = readMeshUDP(o, index: i) { udp.append(link) }
            }
        }
        var radios: [MeshSettings.RadioLink] = []
        if let items = r.array("radios") {
            checkCount(items.count, meshLinkCountRange, noun: "radios", path: r.path + ".radios", line: r.member("radios")?.line,
                       collector: r.collector)
            for (i, o) in objects(items, collector: r.collector).enumerated() {
                if let link = readMeshRadio(o, index: i) { radios.append(link) }
            }
        }
        if enabled, udp.isEmpty, radios.isEmpty, !r.collector.issues.contains(where: { $0.path.hasPrefix(r.path) }) {
            r.collector.add(path: r.path + ".udp", line: r.line, problem: "an enabled mesh needs a link",
                            expected: "at least one entry in udp or radios, or \"enabled\": false")
        }
        r.finish()
        guard let keyFile else { return }
        draft.mesh = MeshSettings(enabled: enabled, networkKeyFile: keyFile, keyEpoch: epoch, previousNetworkKeyFile: previous, gateway: role,
                                  beaconIntervalSeconds: beacon, ttl: ttl, relayQueueMaxMessages: maxMessages, relayQueueMaxBytes: maxBytes,
                                  udp: udp, radios: radios)
    }

    private static func readMeshUDP(_ o: JSONObjectReader, index: Int) -> MeshSettings.UDPLink? {
        let before = o.collector.issues.count
        let name = identifier(o, "name", required: false) ?? "udp\(index)"
        let bind = o.string("bindAddress", maxLength: 15) ?? "0.0.0.0"
        if !isIPv4(bind) {
            o.collector.add(path: o.path + ".bindAddress", line: o.member("bindAddress")?.line, problem: "not an IPv4 address",
                            value: .string(bind), expected: "a dotted IPv4 address such as 0.0.0.0")
        }
        let port = o.int("port", in: portRange) ?? 47_800
        var peers: [String] = []
        if let items = o.array("peers") {
            checkCount(items.count, meshPeerCountRange, noun: "peers", path: o.path + ".peers", line: o.member("peers")?.line, collector: o.collector)
            for item in items {
                guard let s = item.value.stringValue, isIPv4Endpoint(s) else {
                    o.collector.add(path: item.path, line: item.line, problem: "not an IPv4 address and port", value: item.value,
                                    expected: "\"host:port\" such as \"192.168.1.255:47800\"")
                    continue
                }
                peers.append(s)
            }
        }
        o.finish()
        return o.collector.issues.count == before ? MeshSettings.UDPLink(name: name, bindAddress: bind, port: port, peers: peers) : nil
    }

    private static func readMeshRadio(_ o: JSONObjectReader, index: Int) -> MeshSettings.RadioLink? {
        let before = o.collector.issues.count
        let name = identifier(o, "name", required: false) ?? "lora\(index)"
        let port = absolutePath(o, "port", required: true)
        let frequency = o.int("frequencyHz", in: loraFrequencyRange) ?? 868_100_000
        let sf = o.int("spreadingFactor", in: 7...12) ?? 7
        let bw = o.int("bandwidthKHz", oneOf: [125, 250, 500]) ?? 125
        let cr = o.int("codingRate", in: 1...4) ?? 1
        let power = o.int("powerDbm", in: loraPowerRange) ?? 14
        let duty = o.double("dutyCyclePercent", in: 0.001...100)
        o.finish()
        guard let port, o.collector.issues.count == before else { return nil }
        return MeshSettings.RadioLink(name: name, port: port, frequencyHz: frequency, spreadingFactor: sf, bandwidthKHz: bw, codingRate: cr,
                                      powerDbm: power, dutyCyclePercent: duty)
    }

    /// A dotted-quad IPv4 address.
    public static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in p.count <= 3 && !p.isEmpty && p.allSatisfy(\.isASCII) && Int(p).map { $0 <= 255 } == true }
    }

    /// "a.b.c.d:port".
    public static func isIPv4Endpoint(_ s: String) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 2 && isIPv4(String(parts[0])) && Int(parts[1]).map { portRange.contains($0) } == true
    }
}
