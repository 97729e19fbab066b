import Foundation
import Archive
import ConcentratorCore
import Platform
import TestSupport

/// What reached the head-end compared with what the archive holds, counted in values (one meter's
/// quantity in one interval): the fault matrix's columns.
struct DeliveryAudit: CustomStringConvertible {
    /// Values in archived snapshots, delivered or still queued.
    var expected = 0
    /// Archived values the head-end holds, identical.
    var delivered = 0
    /// Archived values neither at the head-end nor queued in the outbox.
    var lost = 0
    /// Values the head-end received in more than one batch.
    var duplicated = 0
    /// Archived values still queued (archived after the last drain, sent at the next start).
    var queued = 0
    /// Values the head-end holds that differ from the archive or were never archived.
    var wrong = 0
    var lostKeys: [String] = []

    var description: String {
        "expected \(expected), delivered \(delivered), queued \(queued), lost \(lost) \(lostKeys.prefix(5)), duplicated \(duplicated), wrong \(wrong)"
    }

    /// Compares the archive in `stateDirectory` (the agent stopped) with what `headEnd` stored.
    static func check(stateDirectory: String, meters: [String], headEnd: ContractHeadEnd) throws -> DeliveryAudit {
        let reader = try ArchiveReader(path: stateDirectory + "/archive.sqlite")
        defer { reader.close() }
        var archived: [String: MeterSnapshot] = [:]
        for meter in meters {
            for series in [SeriesKind.interval, .profile] {
                for s in try reader.snapshots(meter: MeterID(meter), from: Timestamp(milliseconds: 0),
                                              to: Timestamp(milliseconds: Int64(1) << 50), series: series) {
                    archived["\(s.meter)/\(s.intervalStart.milliseconds)/\(series.rawValue)"] = s
                }
            }
        }
        let entries = try reader.outboxPending(limit: 100_000) + reader.outboxUnsealed(limit: 100_000)
        let queuedRanges = entries.compactMap(\.item.intervals)
        let delivered = headEnd.stored
        var audit = DeliveryAudit()
        for key in headEnd.duplicates { audit.duplicated += delivered[key]?.values.count ?? 1 }
        for (key, snapshot) in archived {
            audit.expected += snapshot.values.count
            if let got = delivered[key] {
                if got.values == snapshot.values { audit.delivered += snapshot.values.count } else { audit.wrong += snapshot.values.count }
            } else if queuedRanges.contains(where: { $0.contains(snapshot.intervalStart) }) {
                audit.queued += snapshot.values.count
            } else {
                audit.lost += snapshot.values.count
                audit.lostKeys.append(key)
            }
        }
        for (key, snapshot) in delivered where archived[key] == nil { audit.wrong += snapshot.values.count }
        return audit
    }

    /// Records the audit as one fault-matrix row (queued values count as expected but not yet delivered).
    func record(_ fault: String, measured: [String: Double] = [:]) {
        var extra = measured
        if queued > 0 { extra["queued"] = Double(queued) }
        FaultMatrix.record(fault: fault, expected: expected - queued, delivered: delivered, duplicated: duplicated, measured: extra)
    }
}

/// No snapshot waits in memory for the archive, and the outbox holds at most the newest interval
/// (the agent keeps archiving while the test waits).
func agentDrained(_ agent: AgentProcess) -> Bool {
    guard let r = try? agent.tool(["status", "--json"], timeout: .seconds(10)), r.status == 0,
          let status = try? JSONDecoder().decode(AgentStatus.self, from: Data(r.stdout.utf8)) else { return false }
    return status.buses.allSatisfy { $0.pendingCommits == 0 } && (status.uplink?.outboxDepth ?? 99) <= 1
}
