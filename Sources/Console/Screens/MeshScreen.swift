import ConcentratorCore
import Platform

/// The mesh page: role, route, neighbours with link quality, relay queue, duty budget and time
/// source, from the agent's `status` answer. Pure.
public enum MeshView {
    public static func lines(_ m: MeshState?, configured: Bool) -> [String] {
        guard let m else {
            return [configured ? "mesh: configured but not running (no network key yet? see the agent's log)" : "mesh: not configured"]
        }
        var out: [String] = []
        out.append("node \(m.node)  role \(m.role)  key fingerprint \(m.keyFingerprint)")
        if let r = m.route {
            out.append("route: via \(r.nextHop) to gateway \(r.gateway), \(r.hops) hops, metric \(r.metric)")
        } else {
            out.append(m.role == "gateway" ? "route: this node is a gateway (its broker is reachable)" : "route: NONE (no gateway heard)")
        }
        out.append("relay queue: \(m.relayQueueDepth) messages, \(m.relayQueueBytes / 1024) KiB; relayed \(m.relayed), "
            + "published \(m.publishedUpstream), rejected frames \(m.rejectedFrames)")
        for d in m.dutyCycle {
            let percent = d.limitMilliseconds > 0 ? Int((Double(d.usedMilliseconds) * 100 / Double(d.limitMilliseconds)).rounded()) : 0
            out.append("duty \(d.link): \(d.usedMilliseconds / 1000) s of \(d.limitMilliseconds / 1000) s per hour used (\(percent)%)"
                + (d.refusals > 0 ? ", \(d.refusals) deferred" : ""))
        }
        let t = m.time
        out.append("time: \(t.source), stratum \(t.stratum)" + (t.source == "mesh"
            ? ", offset \(Int(t.offsetMilliseconds)) ms, drift \(t.driftPPM) ppm, error ±\(Int(t.errorMilliseconds)) ms" : ""))
        out.append("neighbours (\(m.neighbours.count)):")
        if m.neighbours.isEmpty { out.append("  none heard yet") }
        for n in m.neighbours.sorted(by: { $0.cost < $1.cost }) {
            let filled = min(10, max(0, Int((n.reception * 10).rounded())))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 10 - filled)
            out.append("  \(n.node) \(n.link)  rx \(bar) \(Int((n.reception * 100).rounded()))%  cost \(n.cost)"
                + (n.uplinkHealth > 0 ? "  GATEWAY" : ""))
        }
        return out
    }

    /// The text of a network key file: 64 hex digits and a newline.
    public static func keyFileText(_ key: [UInt8]) -> String { Hex.encode(key) + "\n" }
}

extension ConsoleSession {
    /// Where the network key goes when the configuration names none yet.
    var defaultMeshKeyPath: String { FileSystem.join(working.stateDirectory, "keys/mesh.key") }

    func meshScreen() throws(ConsoleStop) {
        ui.heading("Mesh")
        let configured = working.root["mesh"] != nil
        switch agent.call(ControlRequest(op: "status")) {
        case .success(let reply):
            try ui.show(MeshView.lines(reply.status?.mesh, configured: configured).flatMap { TextLayout.wrap($0, width: TextLayout.width, indent: 4) })
        case .failure(let failure):
            ui.warning("The agent does not answer (\(failure.message)); the mesh's live state is not available.")
        }
        let action = try ui.ask("key, generate, or Enter to go back", default: "back", help: [
            "key: enter the deployment's network key (64 hex + 8 check digits, not shown);",
            "generate: make a new random key for a new deployment and show it once, to enter on the other nodes.",
        ]) { text in
            Parse.oneOf(text.lowercased(), ["key", "generate", "back"], what: "the action")
        }
        switch action {
        case "key":
            let key = try ui.ask("Network key: 64 hex + 8 check digits (not shown)", help: [
                "The same key on every concentrator of the deployment; typing shows * only.",
            ], secret: true, longAnswer: true) { text in
                KeyText.parse(text, keyLength: 32, what: "a mesh network key").mapError { InputProblem($0.description) }
            }
            stageMeshKey(key)
        case "generate":
            var generator = SystemRandomNumberGenerator()
            let key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            ui.say("New network key (enter it on every other node of this deployment; it is not shown again):")
            ui.say("  " + KeyText.format(key))
            stageMeshKey(key)
        default:
            return
        }
    }

    /// Stages the key file (mode 0600) and points `mesh.networkKeyFile` at it.
    private func stageMeshKey(_ key: [UInt8]) {
        guard key.contains(where: { $0 != 0 }) else {
            ui.problem("an all-zero key is not a key; generate one")
            return
        }
        let path = working.root["mesh"]?["networkKeyFile"]?.stringValue ?? defaultMeshKeyPath
        stage(PendingFile(path: path, text: MeshView.keyFileText(key), mode: 0o600, what: "mesh network key"))
        if working.root["mesh"] == nil {
            working.setMesh(.object([JSONMember(key: "networkKeyFile", value: .string(path)),
                                     JSONMember(key: "udp", value: .array([.object([])]))]))
        }
        let fingerprint = services.keys.meshKeyFingerprint(key).map { "fingerprint \($0)" } ?? "check digits \(KeyText.format(key).suffix(8))"
        ui.good("Network key staged for \(path) (\(fingerprint); compare it with the other nodes' status). " + notAppliedNote)
    }
}
