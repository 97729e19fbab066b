import Foundation
import ConcentratorCore
import Platform
import Testing
import TestSupport
@testable import Bus
import MeterSimulator

/// The bus owner's side of commissioning (issue 16): a scan of a dead port fails instead of finding
/// nothing, a garbled answer is listed, a scan can use line settings that are not applied, the scan
/// names models in words, and "poll now" reads, judges and archives every meter through the owner.
@Suite(.serialized) struct CommissioningBusTests {
    static let profiles = Array(ShippedProfiles.library.profiles.values)

    @Test func aScanOfAPortThatIsDownFailsInsteadOfFindingNothing() {
        let settings = BusSettings(name: "bus1", device: "/dev/does-not-exist-\(UInt32.random(in: 0...UInt32.max))")
        let owner = BusOwner(settings: settings, meters: [], schedule: .onDemandOnly, clock: SystemClock(), sink: MemorySink(),
                             logger: testLogger)
        owner.start()
        defer { owner.stop() }
        let result = owner.scan(addresses: [1, 2, 3], profiles: Self.profiles, timeout: .milliseconds(50))
        guard case .failure(.portUnavailable(let bus, let why)) = result else {
            Issue.record("expected a port failure, got \(result)")
            return
        }
        #expect(bus == "bus1" && why.contains("does-not-exist"))
        #expect(BusError.portUnavailable(bus, why).description.contains("the port is down"))
    }

    @Test func aGarbledAddressIsListedAsGarbledNotLeftOut() throws {
        let field = try SimulatedField(count: 3, addresses: [4, 5, 6], profiles: ["eastron-sdm630", "abb-b23", "eastron-sdm120"],
                                       faults: [.meter(.slave(5), .badCRC)])
        let owner = BusOwner(settings: field.busSettings(), meters: [], schedule: .onDemandOnly, clock: SystemClock(), sink: MemorySink(),
                             logger: testLogger)
        owner.start()
        defer { owner.stop() }
        let hits = try owner.scan(addresses: [4, 5, 6, 7], profiles: Self.profiles, timeout: .milliseconds(80)).get()
        #expect(hits.map(\.address) == [4, 5, 6])
        let garbled = try #require(hits.first { $0.address == 5 })
        #expect(garbled.isGarbled && garbled.profile == nil && garbled.verdict == "garbled: bad checksum", "\(garbled)")
        #expect(hits[0].verdict == "Eastron SDM630-Modbus V2" && hits[2].verdict == "Eastron SDM120-Modbus", "\(hits)")
        #expect(!hits[0].isGarbled)
    }

    @Test func aScanCanUseLineSettingsThatAreNotAppliedForItsStepsOnly() throws {
        let field = try SimulatedField(count: 2, baud: 19_200, profiles: ["eastron-sdm630"])
        // The bus is configured for 9600; the scan asks for 19200 (the installer's working copy).
        var settings = field.busSettings()
        settings.line = LineSettings(baud: 9600)
        let owner = BusOwner(settings: settings, meters: field.meters, schedule: .onDemandOnly, clock: SystemClock(), sink: MemorySink(),
                             logger: testLogger)
        owner.start()
        defer { owner.stop() }
        let hits = try owner.scan(addresses: [1, 2], profiles: Self.profiles, timeout: .milliseconds(80), line: LineSettings(baud: 19_200)).get()
        #expect(hits.count == 2)
        #expect(Self.speed(field.link) == speed_t(B19200), "the scan ran at the working copy's speed")
        _ = try owner.readNow(meter: "m1").get()
        #expect(Self.speed(field.link) == speed_t(B9600), "the next transaction is back at the bus's own speed")
    }

    /// The output speed of the terminal behind `path` (a PTY's settings are shared by its descriptors).
    static func speed(_ path: String) -> speed_t {
        let fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var t = termios()
        guard tcgetattr(fd, &t) == 0 else { return 0 }
        return cfgetospeed(&t)
    }

    @Test func pollNowReadsJudgesAndArchivesEveryMeterAheadOfTheSchedule() throws {
        let field = try SimulatedField(count: 4, profiles: ["eastron-sdm630", "abb-b23"], faults: [.meter(.slave(3), .silence)])
        let sink = MemorySink()
        sink.preStored = ["m4"]
        let clock = AcceleratedClock(origin: ISO8601.parse("2026-11-21T10:23:00Z")!, rate: 1)
        // Hourly snapshots; the next boundary is half an hour away, so only the poll reads now.
        let owner = BusOwner(settings: field.busSettings(timeouts: 50...200, retries: 1), meters: field.meters,
                             schedule: BusSchedule(archive: ArchiveSettings()), clock: clock, sink: sink, logger: testLogger,
                             clockSynchronised: { true })
        owner.start()
        defer { owner.stop() }
        let progress = EventLog()
        let results = try owner.pollNow { p in
            progress.add(GatewayEvent(time: Timestamp(milliseconds: Int64(p.done)), kind: .commandExecuted, severity: .info,
                                      message: "\(p.done)/\(p.total) \(p.answered)"))
        }.get()
        #expect(results.map(\.meter) == ["m1", "m2", "m3", "m4"])
        #expect(results.map(\.answered) == [true, true, false, true])
        #expect(results[2].failure == "no response" && results[2].status == "NO ANSWER")
        #expect(results[0].values == ShippedProfiles.get("eastron-sdm630").quantities.count && results[0].errors == 0)
        #expect(results.allSatisfy { $0.intervalStart == ISO8601.parse("2026-11-21T10:00:00Z") })
        #expect(results.filter(\.answered).allSatisfy { $0.responseMilliseconds > 0 && $0.responseMilliseconds < 2000 })
        #expect(results.map(\.archived) == [true, true, true, false], "m4 already had this interval's snapshot")
        let commit = try #require(sink.commits.first)
        #expect(commit.series == .interval && commit.interval == ISO8601.parse("2026-11-21T10:00:00Z"))
        #expect(commit.snapshots.map(\.meter) == ["m1", "m2", "m3"])
        #expect(progress.all.last?.message == "4/4 3")
        // The silent meter was tried twice (one retry after the others), the others once.
        #expect(field.served.filter { $0.slave == 3 }.map(\.fault) == ["silence", "silence"], "\(field.served.filter { $0.slave == 3 })")
        #expect(Set(field.served.map(\.slave)) == [1, 2, 3, 4])
    }
}
