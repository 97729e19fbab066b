import ConcentratorCore
@testable import Console
import Testing

/// The console's mesh page (menu 15): what an installer reads on an 80×24 serial terminal.
@Suite struct MeshScreenTests {
    static let state = MeshState(
        node: "9ca8941701272dea", role: "relay",
        route: MeshState.Route(nextHop: "e69ef549abd9d42b", gateway: "0123456789abcdef", metric: 512, hops: 2),
        neighbours: [MeshState.Neighbour(node: "e69ef549abd9d42b", link: "udp0", reception: 0.94, cost: 290, uplinkHealth: 0),
                     MeshState.Neighbour(node: "0123456789abcdef", link: "lora0", reception: 0.3, cost: 2840, uplinkHealth: 255)],
        relayQueueDepth: 7, relayQueueBytes: 4096,
        dutyCycle: [MeshState.DutyBudget(link: "lora0", usedMilliseconds: 9_000, limitMilliseconds: 36_000, windowSeconds: 3600, refusals: 2)],
        time: MeshState.TimeSource(source: "mesh", stratum: 3, offsetMilliseconds: -1250, driftPPM: 12.5, errorMilliseconds: 40,
                                   from: "e69ef549abd9d42b"),
        rejectedFrames: 3, relayed: 120, publishedUpstream: 0, keyFingerprint: "1a2b3c4d")

    @Test func showsRouteNeighboursDutyAndTime() {
        let lines = MeshView.lines(Self.state, configured: true)
        let text = lines.joined(separator: "\n")
        #expect(text.contains("role relay") && text.contains("key fingerprint 1a2b3c4d"))
        #expect(text.contains("via e69ef549abd9d42b to gateway 0123456789abcdef, 2 hops, metric 512"))
        #expect(text.contains("duty lora0: 9 s of 36 s per hour used (25%), 2 deferred"))
        #expect(text.contains("time: mesh, stratum 3, offset -1250 ms, drift 12.5 ppm"))
        // Neighbours best first, with a reception bar and the gateway marked.
        let neighbourLines = lines.filter { $0.hasPrefix("  ") }
        #expect(neighbourLines.count == 2)
        #expect(neighbourLines[0].contains("e69ef549abd9d42b udp0  rx #########. 94%  cost 290"))
        #expect(neighbourLines[1].contains("rx ###....... 30%") && neighbourLines[1].hasSuffix("GATEWAY"))
        for line in lines.flatMap({ TextLayout.wrap($0, width: TextLayout.width, indent: 4) }) { #expect(line.count <= 80) }
    }

    @Test func withoutAMeshItSaysWhy() {
        #expect(MeshView.lines(nil, configured: false) == ["mesh: not configured"])
        #expect(MeshView.lines(nil, configured: true).first?.contains("not running") == true)
        var gateway = Self.state
        gateway.role = "gateway"
        gateway.route = nil
        #expect(MeshView.lines(gateway, configured: true).contains("route: this node is a gateway (its broker is reachable)"))
        #expect(MeshView.keyFileText([0xAB, 0x01]) == "ab01\n")
    }
}
