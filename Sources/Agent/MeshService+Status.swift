import ConcentratorCore
import Mesh

extension MeshService {
    /// The mesh's state for `concentrator status`, the MQTT status document and the console.
    public var state: MeshState? {
        guard let s = status else { return nil }
        let linkNames = s.neighbours.isEmpty ? [] : linkNamesByIndex
        let route = s.route.map {
            MeshState.Route(nextHop: "\($0.neighbour.node)", gateway: "\($0.source)",
                            metric: Int($0.metric), hops: Int($0.hopCount))
        }
        let neighbours = s.neighbours.map { n in
            MeshState.Neighbour(node: "\(n.key.node)",
                                link: linkNames.indices.contains(n.key.link) ? linkNames[n.key.link] : "\(n.key.link)",
                                reception: Self.finite((n.receptionRatio * 100).rounded() / 100), cost: Int(n.cost), uplinkHealth: Int(n.uplinkHealth))
        }
        let duty = s.dutyCycle.sorted { $0.key < $1.key }.map { name, d in
            MeshState.DutyBudget(link: name, usedMilliseconds: d.usedMicroseconds / 1000, limitMilliseconds: d.limitMicroseconds / 1000,
                                 windowSeconds: d.windowMilliseconds / 1000, refusals: d.refusals.values.reduce(0, +))
        }
        let c = s.clock
        let source = c.stratum == 1 ? "ntp" : c.stratum >= 16 ? "none" : "mesh"
        let time = MeshState.TimeSource(source: source, stratum: Int(c.stratum), offsetMilliseconds: Self.finite(c.offsetMilliseconds.rounded()),
                                        driftPPM: Self.finite((c.driftPPM * 10).rounded() / 10),
                                        errorMilliseconds: Self.finite(c.errorMilliseconds.rounded()),
                                        from: c.source.map { "\($0)" })
        return MeshState(node: "\(s.node)", role: s.role.rawValue, route: route, neighbours: neighbours,
                         relayQueueDepth: s.relayQueueDepth, relayQueueBytes: s.relayQueueBytes, dutyCycle: duty, time: time,
                         rejectedFrames: s.counters.rejections.total, relayed: s.counters.relayed,
                         publishedUpstream: s.counters.publishedUpstream, keyFingerprint: keyFingerprint ?? "")
    }

    /// JSON has no NaN or infinity (an estimate before its first sample): such values show as 0.
    static func finite(_ x: Double) -> Double { x.isFinite ? x : 0 }
}
