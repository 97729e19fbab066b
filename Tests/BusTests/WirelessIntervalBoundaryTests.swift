import Foundation
import Testing
import ConcentratorCore
import MeterProtocols
import Platform
import TestSupport
@testable import Bus
@testable import MeterSimulator

/// The wireless receiver loop archives each meter's latest telegram of the interval that ended.
/// A telegram that arrives just after the boundary, while the loop waits on the port, must not
/// replace the ended interval's reading before that interval is stored (the defect that left one
/// meter out of an interval in the fifty-wireless-meters end-to-end test).
@Suite(.serialized) struct WirelessIntervalBoundaryTests {
    static let library = ProfileLibrary.load(directories: [BuiltProducts.profilesDirectory])

    @Test(.timeLimit(.minutes(1))) func aTelegramJustAfterTheBoundaryDoesNotHideTheEndedIntervalsReading() throws {
        let directory = TemporaryDirectory("wmbus-boundary")
        let boundary = IntervalSchedule(minutes: 60).nextBoundary(after: SystemClock().now())
        let clock = ManualClock(boundary.adding(seconds: -100))
        let profile = try #require(Self.library.profile(id: "sensus-iperl"))
        let map = try #require(profile.mbus)
        let model = map.identifications[0]
        let identity = MBusIdentity(number: 0x3000_0001, manufacturer: model.manufacturer, version: model.versions.first ?? 1,
                                    medium: model.media.first ?? 7)
        let key = try #require(MeterKey(bytes: (0..<16).map { UInt8($0 * 7 + 3) }))
        // Telegrams at boundary − 90 s and boundary + 110 s.
        let setup = WirelessMeterSetup(identity: identity, map: map, security: .mode5, key: key, intervalSeconds: 200, phaseSeconds: 10,
                                       linkMode: .c1)
        let receiver = try SimulatedWirelessReceiver(configuration: WirelessReceiverConfiguration(meters: [setup], clock: clock,
                                                                                                  linkPath: directory.file("radio")))
        try receiver.start()
        defer { receiver.stop() }

        let meter = MeterID("w1")
        let settings = MeterSettings(id: meter, bus: "radio", protocolKind: .wmbus, address: .wmbus(MBusSecondaryAddress(exactly: identity)),
                                     profile: profile.id)
        let secrets = MemorySecrets()
        secrets.set(meter, ["encryption": key.bytes])
        let sink = ArchiveLikeSink()
        let bus = BusSettings(name: "radio", device: directory.file("radio"), line: IM871AProtocol.line, responseTimeoutMilliseconds: 200...1000, retries: 1)
        let owner = BusOwner(settings: bus, meters: [(settings, profile)], schedule: BusSchedule(archive: ArchiveSettings()), clock: clock, sink: sink,
                             logger: testLogger, clockSynchronised: { true }, services: BusMeterServices(secrets: secrets))
        owner.start()
        defer { owner.stop() }

        // The first telegram (boundary − 90 s), inside the interval that ends at `boundary`.
        Thread.sleep(forTimeInterval: 1)
        clock.set(boundary.adding(seconds: -80))
        #expect(waitUntil(seconds: 10) { owner.status().meters.first?.lastSuccess != nil }, "the receiver never delivered the first telegram")
        Thread.sleep(forTimeInterval: 0.3)
        // Past the boundary in one step: the next telegram (boundary + 110 s) is aired at once and
        // reaches the loop while it waits on the port.
        let sentBefore = receiver.status.sent
        clock.set(boundary.adding(seconds: 120))
        #expect(waitUntil(seconds: 10) { receiver.status.sent > sentBefore && sink.snapshot(.interval, meter, at: boundary) != nil },
                "the ended interval was not archived: stored \(sink.all.map { "\($0.meter)@\($0.intervalStart)" })")
        let stored = try #require(sink.snapshot(.interval, meter, at: boundary))
        #expect(stored.gatewayTime < boundary, "the reading stored for the ended interval is the one heard inside it")
        #expect(!stored.values.isEmpty)
    }
}


/// A bus declared a receiver (`"receiver": "im871a"`) listens with no meter configured, and lists
/// what it hears for the installer (commissioning by listening on a new site).
@Suite(.serialized) struct DeclaredReceiverTests {
    @Test(.timeLimit(.minutes(1))) func aDeclaredReceiverWithNoMetersListsWhatItHears() throws {
        let directory = TemporaryDirectory("wmbus-declared")
        let clock = ManualClock(Timestamp(seconds: 1_790_000_000))
        let profile = try #require(WirelessIntervalBoundaryTests.library.profile(id: "sensus-iperl"))
        let map = try #require(profile.mbus)
        let model = map.identifications[0]
        let identity = MBusIdentity(number: 0x3000_0042, manufacturer: model.manufacturer, version: model.versions.first ?? 1,
                                    medium: model.media.first ?? 7)
        let setup = WirelessMeterSetup(identity: identity, map: map, security: .mode5, key: MeterKey(bytes: [UInt8](repeating: 7, count: 16)),
                                       intervalSeconds: 1, linkMode: .c1, rssiDBm: -61)
        let receiver = try SimulatedWirelessReceiver(configuration: WirelessReceiverConfiguration(meters: [setup], clock: clock,
                                                                                                  linkPath: directory.file("radio")))
        try receiver.start()
        defer { receiver.stop() }
        let undeclared = BusSettings(name: "radio", device: directory.file("radio"), line: IM871AProtocol.line)
        #expect(BusOwner(settings: undeclared, meters: [], schedule: BusSchedule(archive: ArchiveSettings()), clock: clock, sink: ArchiveLikeSink(),
                         logger: testLogger).wireless == nil, "without the declaration an empty bus is no receiver")
        var declared = undeclared
        declared.receiver = .im871a
        let owner = BusOwner(settings: declared, meters: [], schedule: BusSchedule(archive: ArchiveSettings()), clock: clock, sink: ArchiveLikeSink(),
                             logger: testLogger, clockSynchronised: { true })
        owner.start()
        defer { owner.stop() }
        for _ in 0..<40 where owner.status().heard?.isEmpty ?? true {
            clock.advance(milliseconds: 1000)
            Thread.sleep(forTimeInterval: 0.25)
        }
        let heard = owner.status().heard ?? []
        #expect(heard.map(\.id) == [identity.numberText] && heard.first?.lastRSSI == -61, "\(heard)")
    }
}

private func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return condition()
}
