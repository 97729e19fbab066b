import Foundation
import Testing
import ConcentratorCore
import MeterProtocols
import Platform
import TestSupport
@testable import Bus
@testable import MeterSimulator

/// Wired M-Bus on the bus owner: meter-sim's M-Bus segment on a PTY at 2400 8E1, found by the
/// secondary-address search (two ids that differ only in hex letters among them), then read by
/// primary and secondary address in one cycle; every value equals what the simulated slave encodes.
@Suite(.serialized) struct MBusBusTests {
    static let seed: UInt64 = 15
    static let heat = ShippedProfiles.get("kamstrup-multical-403")
    static let heat603 = ShippedProfiles.get("kamstrup-multical-603")

    /// 10 slaves at primary addresses 1–10 and 10 by secondary address only; the last two ids
    /// (3000000A, 3000000B) differ from each other only in a hex letter.
    static func slaves() -> [MBusSlaveSetup] {
        var out = (0..<10).map { i in
            MBusSlaveSetup(primaryAddress: UInt8(i + 1), identity: MBusSlaveArgument.identity(decimal: UInt32(20_000_001 + i), map: heat.mbus!),
                           map: heat.mbus!, turnaroundCharacters: 3 + i % 5)
        }
        let model = heat603.mbus!.identifications[0]
        let numbers: [UInt32] = (1...8).map { 0x3000_0000 + UInt32($0) } + [0x3000_000A, 0x3000_000B]
        out += numbers.enumerated().map { i, n in
            MBusSlaveSetup(primaryAddress: nil, identity: MBusIdentity(number: n, manufacturer: model.manufacturer, version: model.versions.first ?? 1,
                                                                       medium: model.media.first ?? 4),
                           map: heat603.mbus!, turnaroundCharacters: 2 + i % 7)
        }
        return out
    }

    @Test(.timeLimit(.minutes(4))) func twentyMetersAreFoundBySecondaryScanAndReadInOneCycle() throws {
        let directory = TemporaryDirectory("mbus-bus")
        let clock = clockBeforeBoundary(secondsBefore: 3600)
        var config = SimulatorConfiguration(line: MBusSessionOptions.standardLine, meters: [], seed: Self.seed, clock: clock,
                                            linkPath: directory.file("mbus"))
        let slaves = Self.slaves()
        config.mbus = MBusSegmentSetup(slaves: slaves, echo: true)
        let simulator = try SimulatedBus(configuration: config)
        try simulator.start()
        defer { simulator.stop() }
        let bus = BusSettings(name: "mbus1", device: directory.file("mbus"), line: MBusSessionOptions.standardLine,
                              responseTimeoutMilliseconds: 200...1000, retries: 1)

        // Commissioning: the secondary search on the owner's port.
        let scanner = BusOwner(settings: bus, meters: [], schedule: .onDemandOnly, clock: clock, sink: ArchiveLikeSink(), logger: testLogger)
        scanner.start()
        let progress = ScanProgressLog()
        let hits = try scanner.scanMBusSecondary(profiles: [Self.heat, Self.heat603], progress: { progress.add($0) }).get()
        scanner.stop()
        let found = Set(hits.compactMap(\.deviceAddress))
        let expected = Set(slaves.map { MBusSecondaryAddress(exactly: $0.identity).description })
        #expect(found == expected, "missing \(expected.subtracting(found)), extra \(found.subtracting(expected))")
        #expect(hits.allSatisfy { $0.protocolKind == .mbus && $0.garbled != true && $0.profile != nil })
        #expect(found.isSuperset(of: slaves.suffix(2).map { MBusSecondaryAddress(exactly: $0.identity).description }),
                "the ids 3000000A and 3000000B (a hex letter apart) are both found")
        let bar = progress.all.map(\.done)
        #expect(bar == bar.sorted() && bar.last == 1000, "the progress bar only grows, to the end")

        // The found meters, configured (primary where they have one, else the found secondary address).
        var meters: [(MeterSettings, MeterProfile)] = []
        for (i, s) in slaves.enumerated() {
            let profile = s.primaryAddress == nil ? Self.heat603 : Self.heat
            let address: MeterAddress = s.primaryAddress.map { .mbusPrimary($0) } ?? .mbusSecondary(MBusSecondaryAddress(exactly: s.identity))
            meters.append((MeterSettings(id: MeterID("h\(i + 1)"), bus: "mbus1", protocolKind: .mbus, address: address, profile: profile.id), profile))
        }
        let sink = ArchiveLikeSink()
        let events = EventLog()
        let owner = BusOwner(settings: bus, meters: meters, schedule: .onDemandOnly, clock: clock, sink: sink, logger: testLogger,
                             onEvent: { events.add($0) })
        owner.start()
        defer { owner.stop() }
        var compared = 0
        for (i, (settings, profile)) in meters.enumerated() {
            let snapshot = try owner.readNow(meter: settings.id).get()
            #expect(Set(snapshot.values.map(\.quantity)) == Set(profile.quantities))
            let model = MBusSimulatedSlave(setup: slaves[i], seed: Self.seed).model
            // The slave encodes its values at the moment it answers: one of the last seconds.
            let candidates = (0...6).map { MBusRecordEncoder.expectedValues(for: profile.mbus!, model: model, at: snapshot.gatewayTime.adding(seconds: -Int64($0))) }
            for v in snapshot.values {
                let value = try #require(v.value, "\(settings.id) \(v.quantity): \(v.error.map { "\($0)" } ?? "")")
                #expect(candidates.contains { $0[v.quantity] == value }, "\(settings.id) \(v.quantity) = \(value), served \(candidates[0][v.quantity] ?? .nan)")
                compared += 1
            }
        }
        #expect(compared >= 20 * 3)
        #expect(events.all.filter { $0.kind == .meterOffline }.isEmpty)
    }

    @Test(.timeLimit(.minutes(2))) func aStatusFlagIsOneAlarmEventAndAnAbsentSlaveTimesOutAlone() throws {
        let directory = TemporaryDirectory("mbus-status")
        let clock = clockBeforeBoundary(secondsBefore: 3600)
        var config = SimulatorConfiguration(line: MBusSessionOptions.standardLine, meters: [], seed: Self.seed, clock: clock, linkPath: directory.file("mbus"))
        var alarmed = Self.slaves()[0]
        alarmed.status = 0x04 // power low
        config.mbus = MBusSegmentSetup(slaves: [alarmed, Self.slaves()[1]])
        let simulator = try SimulatedBus(configuration: config)
        try simulator.start()
        defer { simulator.stop() }
        let bus = BusSettings(name: "mbus1", device: directory.file("mbus"), line: MBusSessionOptions.standardLine,
                              responseTimeoutMilliseconds: 200...1000, retries: 0)
        let meters: [(MeterSettings, MeterProfile)] = [1, 2, 9].map {
            (MeterSettings(id: MeterID("h\($0)"), bus: "mbus1", protocolKind: .mbus, address: .mbusPrimary(UInt8($0)), profile: Self.heat.id), Self.heat)
        }
        let events = EventLog()
        let owner = BusOwner(settings: bus, meters: meters, schedule: .onDemandOnly, clock: clock, sink: ArchiveLikeSink(), logger: testLogger,
                             onEvent: { events.add($0) })
        owner.start()
        defer { owner.stop() }
        for _ in 0..<2 { _ = try owner.readNow(meter: "h1").get() }
        let alarms = events.all.filter { $0.kind == .meterAlarm && $0.meter == "h1" }
        #expect(alarms.count == 1 && alarms.first?.message.contains("power-low") == true, "\(alarms)")
        guard case .failure(.transaction(let id, let code)) = owner.readNow(meter: "h9") else {
            Issue.record("an absent slave was read")
            return
        }
        #expect(id == "h9" && code == .noResponse)
        #expect((try? owner.readNow(meter: "h2").get())?.values.allSatisfy { $0.value != nil } == true, "the others are unaffected")
    }
}
