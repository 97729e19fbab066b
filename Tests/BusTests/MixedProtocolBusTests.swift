import Foundation
import Testing
import ConcentratorCore
import MeterProtocols
import Platform
import TestSupport
@testable import Bus
@testable import MeterSimulator

/// One bus owner, one PTY: Modbus RTU (8N1), DLMS/COSEM over HDLC (8N1, HLS-GMAC, LLS and no
/// security) and IEC 62056-21 mode C (300 7E1 sign-on, then 9600) meters, with meter-sim's real
/// line timing. Every value must equal what the simulator served.
@Suite(.serialized) struct MixedProtocolBusTests {
    static let interval = IntervalSchedule(minutes: 60)

    @Test(.timeLimit(.minutes(2))) func oneCycleReadsEveryProtocolOnOneLine() throws {
        let field = try MixedField(clock: clockBeforeBoundary(secondsBefore: 1))
        let sink = ArchiveLikeSink()
        let events = EventLog()
        let owner = field.owner(sink: sink, events: events)
        owner.start()
        defer { owner.stop() }
        #expect(waitUntil(timeout: .seconds(90)) { owner.status().cyclesCompleted >= 1 })
        let served = ServedLogReader.servedValues(field.served)
        let snapshots = sink.all.filter { Self.interval.isBoundary($0.intervalStart) && !$0.values.isEmpty }
        #expect(Set(snapshots.map(\.meter)) == Set(field.meters.map(\.0.id)), "every meter has a snapshot: \(snapshots.map(\.meter))")
        var compared = 0
        for snapshot in snapshots {
            let (settings, profile) = field.meters.first { $0.0.id == snapshot.meter }!
            #expect(Set(snapshot.values.map(\.quantity)) == Set(profile.quantities), "every quantity of \(profile.id)")
            let key: String = switch settings.address {
            case .modbus(let a): String(a)
            case .hdlc(let a): String(a)
            case .iecDevice(let d): d
            default: "?"
            }
            for v in snapshot.values {
                guard let value = v.value else {
                    Issue.record("\(snapshot.meter) \(v.quantity): \(v.error.map { "\($0)" } ?? "no value")")
                    continue
                }
                #expect(served["\(key)/\(v.quantity.rawValue)"]?.contains(value) == true, "\(snapshot.meter) \(v.quantity) = \(value) was not served")
                compared += 1
            }
            if settings.protocolKind != .modbus {
                let offset = try #require(snapshot.meterTime, "\(snapshot.meter) carries its clock").milliseconds - snapshot.gatewayTime.milliseconds
                #expect(abs(offset) < 3000, "\(snapshot.meter)'s clock agrees with the simulator's (\(offset) ms)")
            }
        }
        #expect(compared >= 60)
        #expect(events.all.filter { $0.kind == .meterSecurityFailure }.isEmpty)
        // HLS: every counter the meter saw came from a durable reservation, each once. (The meter
        // records f(StoC)'s counter after the APDU's that carries it, so the log is not sorted.)
        let seen = try #require(field.simulator.dlmsInvocationCounters(address: 17))
        let reserved = field.counters.reserved("d17")
        #expect(!seen.isEmpty && Set(seen).count == seen.count)
        #expect(seen.allSatisfy { c in reserved.contains { $0.contains(c) } }, "counters \(seen) within \(reserved)")
        // The line really switched: IEC readouts at 9600 and DLMS/Modbus at 38400 in one cycle.
        #expect(field.served.contains { $0.device == "00000002" } && field.served.contains { $0.slave == 17 } && field.served.contains { $0.slave == 1 })
    }

    @Test(.timeLimit(.minutes(2))) func aWrongKeyIsOneClearEventAndTheOtherMetersGoOn() throws {
        let field = try MixedField(clock: clockBeforeBoundary(secondsBefore: 3600))
        field.secrets.set("d17", ["encryption": Array(repeating: 0x55, count: 16), "authentication": MixedField.authenticationKey])
        let events = EventLog()
        let owner = field.owner(sink: ArchiveLikeSink(), schedule: .onDemandOnly, events: events)
        owner.start()
        defer { owner.stop() }
        for _ in 0..<2 {
            guard case .failure(.transaction(let id, let code)) = owner.readNow(meter: "d17") else {
                Issue.record("a meter with a wrong key was read")
                return
            }
            #expect(id == "d17" && code == .securityFailure)
        }
        for other in ["m1", "d18", "d19", "i1"] {
            let snapshot = try owner.readNow(meter: MeterID(other)).get()
            #expect(snapshot.values.allSatisfy { $0.value != nil }, "\(other) is unaffected")
        }
        let security = events.all.filter { $0.kind == .meterSecurityFailure }
        #expect(security.count == 1, "one event, not one per read: \(security)")
        #expect(security.first?.meter == "d17" && security.first?.message.contains("authentication failure") == true, "\(security)")
        // The key never appears in what is logged or raised.
        #expect(!events.all.contains { $0.message.contains("5555") || $0.message.lowercased().contains("55 55") })
        // The right key: the meter answers again.
        field.secrets.set("d17", ["encryption": MixedField.encryptionKey, "authentication": MixedField.authenticationKey])
        #expect((try? owner.readNow(meter: "d17").get()) != nil)
        // A missing password for an LLS meter is a security failure of that meter too.
        field.secrets.set("d19", [:])
        guard case .failure(.transaction(_, .securityFailure)) = owner.readNow(meter: "d19") else {
            Issue.record("an LLS meter without its password was read")
            return
        }
    }

    @Test(.timeLimit(.minutes(2))) func driftedMeterClocksAreSetBackAndAudited() throws {
        let clock = clockBeforeBoundary(secondsBefore: 3600)
        let field = try MixedField(clock: clock)
        try field.simulator.setClockOffset(slave: 17, seconds: 300)
        try field.simulator.setIECClockOffset(address: "00000002", seconds: -300)
        var schedule = BusSchedule.onDemandOnly
        schedule.meterClockThreshold = .seconds(10)
        let events = EventLog()
        let owner = field.owner(sink: ArchiveLikeSink(), schedule: schedule, events: events)
        owner.start()
        defer { owner.stop() }
        // A read with the policy sets the DLMS clock in the same association.
        _ = try owner.readNow(meter: "d17").get()
        let dlmsOffset = try #require(field.simulator.dlmsClockOffsetMilliseconds(slave: 17))
        #expect(abs(dlmsOffset) < 10_000, "the DLMS meter's clock is within the threshold: \(dlmsOffset) ms")
        // time.sync's path for an IEC meter: programming mode, W1 with the P1 password.
        let sync = try owner.synchroniseClock(meter: "i2", threshold: .seconds(10)).get()
        #expect(abs(sync.before.driftMilliseconds + 300_000) < 5_000, "it was 5 minutes behind: \(sync.before.driftMilliseconds)")
        #expect(sync.after != nil)
        let iecOffset = try #require(field.simulator.iecMeter(at: "00000002")?.clockOffsetMilliseconds)
        #expect(abs(iecOffset) < 10_000, "the IEC meter's clock is within the threshold: \(iecOffset) ms")
        // A clock within the threshold is left alone.
        let untouched = try owner.synchroniseClock(meter: "d18", threshold: .seconds(10)).get()
        #expect(untouched.after == nil)
        let audited = field.audit.all
        #expect(Set(audited.map(\.meter)) == ["d17", "i2"], "every set is audited: \(audited.map(\.meter))")
        #expect(audited.first { $0.meter == "d17" }?.keyIDs == ["guek", "gak"] && audited.first { $0.meter == "i2" }?.keyIDs == ["p1"])
        #expect(events.all.filter { $0.kind == .meterClockSet }.count == 2)
    }

    @Test(.timeLimit(.minutes(1))) func theRelayDrivesTheDisconnectControl() throws {
        let field = try MixedField(clock: clockBeforeBoundary(secondsBefore: 3600))
        let owner = field.owner(sink: ArchiveLikeSink(), schedule: .onDemandOnly)
        owner.start()
        defer { owner.stop() }
        #expect(try owner.setRelay(meter: "d17", connected: false).get() == false)
        #expect(field.simulator.dlmsOutputState(address: 17) == false)
        #expect(try owner.setRelay(meter: "d17", connected: nil).get() == false)
        #expect(try owner.setRelay(meter: "d17", connected: true).get() == true)
        #expect(field.simulator.dlmsOutputState(address: 17) == true)
        guard case .failure(.unsupported) = owner.setRelay(meter: "d18", connected: false) else {
            Issue.record("a meter without a disconnect control was switched")
            return
        }
    }

    @Test(.timeLimit(.minutes(2))) func missingIntervalsAreReadBackFromTheMetersProfiles() throws {
        let clock = clockBeforeBoundary(secondsBefore: 1200)
        let field = try MixedField(clock: clock)
        let now = clock.now()
        let current = Self.interval.start(containing: now)
        let sink = ArchiveLikeSink()
        // Each meter with a load profile was last archived six hours ago; nothing since.
        for meter in ["d17", "d18", "d19", "i1", "i2"] { sink.seed(.interval, MeterID(meter), at: current.adding(seconds: -6 * 3600)) }
        var schedule = BusSchedule(archive: ArchiveSettings())
        schedule.catchUpMilliseconds = 0
        let events = EventLog()
        let owner = field.owner(sink: sink, schedule: schedule, events: events)
        owner.start()
        defer { owner.stop() }
        // The latest boundary passed 40 minutes ago, beyond the catch-up window (0 here): no cycle
        // takes it, so the meters' profiles fill it too.
        let wanted = (0...5).map { current.adding(seconds: -Int64($0) * 3600) }
        #expect(waitUntil(timeout: .seconds(100)) { sink.backfills.count >= 5 * wanted.count })
        for meter in ["d17", "d18", "d19", "i1", "i2"] {
            for t in wanted {
                let snapshot = try #require(sink.snapshot(.interval, MeterID(meter), at: t), "\(meter) has \(t) back")
                #expect(snapshot.values.contains { $0.quantity == "active_energy_import" && $0.value != nil })
                if meter.hasPrefix("d"), let (settings, profile) = field.meters.first(where: { $0.0.id.rawValue == meter }),
                   case .hdlc(let a) = settings.address {
                    for v in snapshot.values {
                        #expect(v.value == field.dlmsProfileValue(address: UInt8(a), profile: profile, quantity: v.quantity, at: t),
                                "\(meter) \(v.quantity) at \(t) is the meter's own profile value")
                    }
                }
            }
            #expect(sink.snapshot(.interval, MeterID(meter), at: current.adding(seconds: 3600)) == nil, "nothing from the future")
            #expect(sink.backfills.filter { $0.1.meter.rawValue == meter }.count == wanted.count, "each hole once")
        }
        #expect(sink.backfills.allSatisfy { $0.0 == .interval })
        #expect(Set(events.all.filter { $0.kind == .meterBackfilled }.compactMap(\.meter)) == ["d17", "d18", "d19", "i1", "i2"])
    }

    @Test(.timeLimit(.minutes(2))) func anUrgentReadJumpsALongProfileTransfer() throws {
        let clock = clockBeforeBoundary(secondsBefore: 1200)
        // Small PDUs: a day of 15-minute rows takes many blocks.
        let field = try MixedField(clock: clock, dlmsLimits: DLMSMeterLimits(maxInfo: 128, window: 1, maxPDUSize: 128))
        let current = Self.interval.start(containing: clock.now())
        let sink = ArchiveLikeSink()
        sink.seed(.interval, "d17", at: current.adding(seconds: -3 * 86_400))
        var schedule = BusSchedule(archive: ArchiveSettings())
        schedule.catchUpMilliseconds = 0
        let owner = field.owner(sink: sink, schedule: schedule)
        owner.start()
        defer { owner.stop() }
        #expect(waitUntil(timeout: .seconds(30)) { !sink.backfills.isEmpty }, "the transfer runs")
        let started = ContinuousClock.now
        let read = owner.readNow(meter: "m1")
        let waited = ContinuousClock.now - started
        #expect((try? read.get()) != nil)
        #expect(waited < .seconds(2), "the urgent read waited \(waited) for one block, not for the transfer")
        #expect(sink.backfills.count < 3 * 24 - 1, "it ran in the middle of the transfer")
        // A read of the meter itself in the middle ends its block transfer; the rest is asked again.
        _ = try owner.readNow(meter: "d17").get()
        #expect(waitUntil(timeout: .seconds(90)) { sink.backfills.count >= 3 * 24 - 1 }, "every hour came back: \(sink.backfills.count)")
        let hours = Set(sink.backfills.map(\.1.intervalStart))
        #expect(hours.count == sink.backfills.count, "no interval twice")
    }

    @Test(.timeLimit(.minutes(2))) func scansFindIECAndDLMSMetersByAddress() throws {
        let field = try MixedField(clock: clockBeforeBoundary(secondsBefore: 3600))
        let owner = field.owner(sink: ArchiveLikeSink(), schedule: .onDemandOnly)
        owner.start()
        defer { owner.stop() }
        let progress = ScanProgressLog()
        let iec = try owner.scanIEC(addresses: ["00000001", "00000002", "00000009"], profiles: [MixedField.iecProfile],
                                    progress: { progress.add($0) }).get()
        #expect(iec.map(\.deviceAddress) == ["00000001", "00000002"])
        #expect(iec.allSatisfy { $0.profile == "test-iec-c" && $0.protocolKind == .iec62056_21 })
        #expect(progress.all.map(\.done) == [1, 2, 3] && progress.all.last?.deviceAddress == "00000009")
        let dlms = try owner.scanHDLC(addresses: Array(16...20)).get()
        #expect(dlms.map(\.deviceAddress) == ["17", "18", "19"])
        #expect(dlms.allSatisfy { $0.protocolKind == .dlms && !$0.isGarbled })
        // Modbus meters on the same line still answer a Modbus scan afterwards.
        let modbus = try owner.scan(addresses: [1, 2, 3], profiles: [ShippedProfiles.get("eastron-sdm120")]).get()
        #expect(modbus.map(\.address) == [1, 2])
    }
}

/// Scan progress as reported.
final class ScanProgressLog: @unchecked Sendable {
    private let lock = ConditionLock()
    private var items: [ScanProgress] = []
    func add(_ p: ScanProgress) { lock.withLock { items.append(p) } }
    var all: [ScanProgress] { lock.withLock { items } }
}
