import ConcentratorCore
import Foundation
import Testing
import TestSupport

/// Issue 10 §4f: every key of the agent status document (`status --json`) is documented as a
/// contract in Docs/mqtt-api.md §11.10.
@Suite struct StatusContractTests {
    /// Every key path of a JSON value: `buses[].meters[].id`.
    static func paths(_ value: Any, prefix: String = "") -> Set<String> {
        var out: Set<String> = []
        if let object = value as? [String: Any] {
            for (key, child) in object {
                let path = prefix.isEmpty ? key : prefix + "." + key
                out.insert(path)
                out.formUnion(paths(child, prefix: path))
            }
        } else if let array = value as? [Any] {
            for child in array { out.formUnion(paths(child, prefix: prefix + "[]")) }
        }
        return out
    }

    @Test func everyKeyTheAgentWritesIsInTheDocumentedTable() throws {
        let t = Timestamp(milliseconds: 1_795_255_200_000)
        let meter = MeterStatus(id: "m-1", address: "1", profile: "eastron-sdm630", state: .online, lastError: "timeout", lastSuccess: t,
                                responseTimeoutMilliseconds: 120, turnaroundMilliseconds: 25)
        let cycle = CycleReport(intervalStart: t, series: [.interval], started: t, durationMilliseconds: 800, meters: 1, answered: 1,
                                failed: 0, values: 30, errorValues: 0, transactions: 5, wireMilliseconds: 300,
                                worstFailedMeterMilliseconds: 0, committed: true)
        let bus = BusStatus(name: "bus1", device: "/dev/ttyUSB0", line: "9600 8N1", portOpen: true, portError: "gone", meters: [meter],
                            lastCycle: cycle, nextIntervalBoundary: t, cyclesCompleted: 1, queuedTasks: 0, pendingCommits: 0)
        var uplink = UplinkState(broker: "127.0.0.1:1883", connected: true, lastConnected: t, lastAcknowledged: t, lastError: "x",
                                 outboxDepth: 3, inFlight: 1, oldestUnacknowledgedInterval: t, lastSequence: 42, droppedUnsent: 0)
        uplink.refusal = "this device is not registered at the head-end"
        let status = AgentStatus(device: "gw-0001", version: "0.1.0", startedAt: t, now: t, clockSynchronised: true, buses: [bus],
                                 archive: ArchiveStatus(path: "/var/lib/concentrator/archive.sqlite", fileBytes: 1024, newestInterval: t,
                                                        oldestInterval: t, lastError: "e"),
                                 uplink: uplink)
        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(status))
        let written = Self.paths(json)
        #expect(written.count > 50)
        let doc = try String(contentsOfFile: BuiltProducts.packageRoot + "/Docs/mqtt-api.md", encoding: .utf8)
        let section = try #require(doc.range(of: "### 11.10").map { String(doc[$0.lowerBound...]) })
        for path in written.sorted() {
            #expect(section.contains("| `\(path)` |"), "status key \(path) is not documented in mqtt-api.md §11.10")
        }
    }
}
