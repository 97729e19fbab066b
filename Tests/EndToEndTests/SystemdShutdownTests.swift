import Archive
import ConcentratorCore
import Foundation
import Testing
import TestSupport

/// SIGTERM while the agent is in the middle of an interval snapshot: it finishes the meter it is
/// reading, stores what it read (a partial snapshot, caught up after the restart) and exits 0 well
/// within TimeoutStopSec. Nothing a meter answered is lost: every meter the simulator served is in
/// the archive with the values it served.
@Suite(.serialized) struct SystemdShutdownTests {
    @Test(.timeLimit(.minutes(1)))
    func sigtermDuringASnapshotStoresWhatWasRead() throws {
        // 24 meters at 9600 baud: the snapshot takes several seconds, so SIGTERM lands inside it.
        let field = try SystemdTestFixture(meterCount: 24, baud: 9600, turnaround: "20-40")
        // Two seconds after a boundary: the agent catches the 10:00 snapshot up at once.
        let boundary = try #require(ISO8601.parse("2026-11-21T10:00:00Z"))
        let agent = try field.startAgent(clockOrigin: "2026-11-21T10:00:02Z")
        try #require(field.notify.waitFor("READY=1", timeout: .seconds(20)), "no READY=1; agent stderr:\n\(agent.stderr)")
        try #require(waitUntil(timeout: .seconds(20)) { Set(ServedLogReader.read(field.servedLog).map(\.slave)).count >= 3 },
                     "the snapshot did not start; agent stderr:\n\(agent.stderr)")

        let signalled = ContinuousClock.now
        let status = agent.stop(signal: SIGTERM, timeout: .seconds(25))
        let stopTook = ContinuousClock.now - signalled
        #expect(status == 0, "exit status \(String(describing: status)); stderr:\n\(agent.stderr)")
        #expect(stopTook < .seconds(5), "stopping took \(stopTook)")
        #expect(field.notify.messages(containing: "STOPPING=1").count == 1)
        #expect(agent.stderr.contains("(partial: stopping)"), "\(agent.stderr)")

        let served = ServedLogReader.read(field.servedLog).filter { !$0.values.isEmpty }
        let servedMeters = Set(served.map { MeterID("m\($0.slave)") })
        let reader = try ArchiveReader(path: field.stateDirectory + "/archive.sqlite")
        defer { reader.close() }
        let stored = try reader.snapshots(intervalStart: boundary)
        let storedMeters = Set(stored.map(\.meter))
        #expect(servedMeters.count >= 3)
        #expect(storedMeters.count < field.meterCount, "the snapshot was complete before SIGTERM; the test proves nothing")
        #expect(servedMeters.isSubset(of: storedMeters), "served but not stored: \(servedMeters.subtracting(storedMeters).sorted())")

        // The stored values are the served ones (exact doubles, as the simulator logged them).
        let servedValues = ServedLogReader.servedValues(served)
        for snapshot in stored where servedMeters.contains(snapshot.meter) {
            let slave = snapshot.meter.rawValue.dropFirst()
            let energy = try #require(snapshot.values.first { $0.quantity == QuantityID("active_energy_import") })
            let value = try #require(energy.value, "\(snapshot.meter): \(String(describing: energy.error))")
            #expect(servedValues["\(slave)/active_energy_import"]?.contains(value) == true, "\(snapshot.meter) stored \(value)")
        }
    }
}
