import ConcentratorCore

/// The mesh's lines of `concentrator status`: role, route, relay queue, duty budget, time source.
enum MeshStatusReport {
    static func lines(_ m: MeshState) -> [String] {
        var out: [String] = []
        let route = m.route.map { "via \($0.nextHop) to gateway \($0.gateway), \($0.hops) hops, metric \($0.metric)" }
            ?? (m.role == "gateway" ? "this node is a gateway" : "NO ROUTE to a gateway")
        out.append("mesh \(m.node) \(m.role.uppercased() == "ISOLATED" ? "ISOLATED" : m.role)  \(route)")
        out.append("  relay queue \(m.relayQueueDepth) (\(m.relayQueueBytes / 1024) KiB)  neighbours \(m.neighbours.count)"
            + "  relayed \(m.relayed)  published \(m.publishedUpstream)  rejected frames \(m.rejectedFrames)  key \(m.keyFingerprint)")
        for d in m.dutyCycle {
            let percent = d.limitMilliseconds > 0 ? Double(d.usedMilliseconds) * 100 / Double(d.limitMilliseconds) : 0
            out.append("  duty \(d.link): \(Output.duration(milliseconds: Double(d.usedMilliseconds))) of \(Output.duration(milliseconds: Double(d.limitMilliseconds))) per \(d.windowSeconds / 60) min"
                + " (\(Int(percent.rounded()))% used)" + (d.refusals > 0 ? ", \(d.refusals) deferred" : ""))
        }
        let t = m.time
        out.append("  time \(t.source) stratum \(t.stratum)" + (t.source == "mesh"
            ? " from \(t.from ?? "?"): offset \(Int(t.offsetMilliseconds)) ms, drift \(t.driftPPM) ppm, error ±\(Int(t.errorMilliseconds)) ms" : ""))
        return out
    }
}
