import Foundation
import ConcentratorCore
import MeterProtocols
import Platform
import TestSupport
@testable import Bus
@testable import MeterSimulator

/// Meter secrets in memory, as the agent reads them from key files.
final class MemorySecrets: MeterSecretSource, @unchecked Sendable {
    private let lock = ConditionLock()
    private var byMeter: [MeterID: [String: [UInt8]]] = [:]

    func set(_ meter: MeterID, _ values: [String: [UInt8]]) { lock.withLock { byMeter[meter] = values } }

    func secrets(for meter: MeterID) -> Result<MeterSecrets, MeterSecretsProblem> {
        lock.withLock {
            byMeter[meter].map { .success(MeterSecrets($0)) } ?? .failure(MeterSecretsProblem("no key file for meter \(meter)"))
        }
    }
}

/// Invocation counters kept in memory, with every reservation recorded (the archive in the agent).
final class MemoryCounters: InvocationCounterStore, @unchecked Sendable {
    private let lock = ConditionLock()
    private var marks: [MeterID: UInt32] = [:]
    private(set) var reservations: [(MeterID, ClosedRange<UInt32>)] = []

    func reserve(meter: MeterID, count: UInt32) throws -> ClosedRange<UInt32> {
        lock.withLock {
            let low = (marks[meter] ?? 0) + 1, high = (marks[meter] ?? 0) + count
            marks[meter] = high
            reservations.append((meter, low...high))
            return low...high
        }
    }

    func reserved(_ meter: MeterID) -> [ClosedRange<UInt32>] { lock.withLock { reservations.filter { $0.0 == meter }.map(\.1) } }
}

/// Clock sets the bus owner audited.
final class AuditLog: @unchecked Sendable {
    private let lock = ConditionLock()
    private var items: [MeterClockSetRecord] = []
    func add(_ r: MeterClockSetRecord) { lock.withLock { items.append(r) } }
    var all: [MeterClockSetRecord] { lock.withLock { items } }
}

/// A sink that keeps snapshots by (series, meter, interval) like the archive does (first one
/// wins), knows which intervals are missing, and records backfilled ones.
final class ArchiveLikeSink: SnapshotSink, @unchecked Sendable {
    private let lock = ConditionLock()
    private var stored: [String: MeterSnapshot] = [:]
    private(set) var backfilled: [(SeriesKind, MeterSnapshot)] = []

    private static func key(_ series: SeriesKind, _ meter: MeterID, _ t: Timestamp) -> String { "\(series.rawValue)/\(meter)/\(t.milliseconds)" }

    func seed(_ series: SeriesKind, _ meter: MeterID, at t: Timestamp) {
        lock.withLock { stored[Self.key(series, meter, t)] = MeterSnapshot(meter: meter, intervalStart: t, gatewayTime: t, values: []) }
    }

    func store(bus: BusName, series: SeriesKind, intervalStart: Timestamp, snapshots: [MeterSnapshot]) throws {
        lock.withLock { for s in snapshots where stored[Self.key(series, s.meter, s.intervalStart)] == nil { stored[Self.key(series, s.meter, s.intervalStart)] = s } }
    }

    func storedMeters(bus: BusName, series: SeriesKind, intervalStart: Timestamp) throws -> Set<MeterID> { [] }

    func missingIntervals(meter: MeterID, series: SeriesKind, lengthMinutes: Int, from: Timestamp, to: Timestamp) throws -> [Timestamp] {
        lock.withLock {
            let length = Int64(lengthMinutes) * 60_000
            var out: [Timestamp] = []
            var seen = false
            var t = (from.milliseconds + length - 1) / length * length
            while t < to.milliseconds {
                if stored[Self.key(series, meter, Timestamp(milliseconds: t))] != nil { seen = true } else if seen { out.append(Timestamp(milliseconds: t)) }
                t += length
            }
            return out
        }
    }

    func storeBackfill(bus: BusName, series: SeriesKind, lengthMinutes: Int, snapshots: [MeterSnapshot]) throws {
        lock.withLock {
            for s in snapshots where stored[Self.key(series, s.meter, s.intervalStart)] == nil {
                stored[Self.key(series, s.meter, s.intervalStart)] = s
                backfilled.append((series, s))
            }
        }
    }

    func snapshot(_ series: SeriesKind, _ meter: MeterID, at t: Timestamp) -> MeterSnapshot? { lock.withLock { stored[Self.key(series, meter, t)] } }
    var all: [MeterSnapshot] { lock.withLock { Array(stored.values) } }
    var backfills: [(SeriesKind, MeterSnapshot)] { lock.withLock { backfilled } }
}

/// One PTY with Modbus (1, 2), DLMS (17 HLS-GMAC, 18 no security, 19 LLS) and IEC 62056-21 meters
/// (00000001, 00000002: a mode C model with a clock, a P1 password and a P.01 counter profile).
final class MixedField {
    static let encryptionKey: [UInt8] = Array(0x00...0x0F)
    static let authenticationKey: [UInt8] = Array(0xD0...0xDF)
    static let llsPassword = Array("12345678".utf8)
    static let iecPassword = "4711"
    static let seed: UInt64 = 21

    /// A mode C meter model for these tests: registers, a clock set by W1, a 15-minute P.01 of counters.
    static let iecProfile: MeterProfile = MeterProfile(
        id: "test-iec-c", name: "Test IEC mode C", manufacturer: "test", source: "test", protocolKind: .iec62056_21,
        iec: IECProfile(maximumBaud: 9600, identification: IECIdentificationPattern(manufacturer: "SIM", identPrefix: "TC"), passwordID: "p1",
                        registers: [IECRegisterSpec(obis: "1.8.0", quantity: "active_energy_import", unit: "kWh"),
                                    IECRegisterSpec(obis: "2.8.0", quantity: "active_energy_export", unit: "kWh"),
                                    IECRegisterSpec(obis: "32.7.0", quantity: "voltage_l1", unit: "V")],
                        clock: IECClockSpec(),
                        loadProfile: IECLoadProfileSpec(periodMinutes: 15, channels: [
                            IECProfileChannelSpec(obis: "1.8.0", quantity: "active_energy_import", unit: "kWh", kind: .counter),
                            IECProfileChannelSpec(obis: "2.8.0", quantity: "active_energy_export", unit: "kWh", kind: .counter)])))

    /// The shipped E450 with LLS (a reading client with a password) instead of HLS.
    static let llsProfile: MeterProfile = {
        var p = ShippedProfiles.get("landis-gyr-e450")
        p.id = "test-e450-lls"
        p.dlms!.clientAddress = 32
        p.dlms!.security = .lowLevel(passwordKey: "lls")
        return p
    }()

    let directory = TemporaryDirectory("mixed-bus")
    let simulator: SimulatedBus
    let link: String
    let servedLog: String
    let clock: AcceleratedClock
    let meters: [(MeterSettings, MeterProfile)]
    let secrets = MemorySecrets()
    let counters = MemoryCounters()
    let audit = AuditLog()

    /// The E450 with its alarm register 1 (0-0:97.98.0.255) as a status input (`statusInputs`).
    static let alarmRegister = DLMSAlarmRegisterSpec(bits: [.init(name: "cover_open", bit: 0), .init(name: "tamper", bit: 2),
                                                            .init(name: "power_fail", bit: 8)])
    /// The mode C model's `F.F` error code as a status input (`statusInputs`).
    static let errorCode = IECErrorCodeSpec(obis: "F.F", bits: [.init(name: "tamper", bit: 0), .init(name: "meter_error", bit: 31)])

    /// `statusInputs`: the E450 (d17) declares its alarm register and the IEC model its error code.
    init(clock: AcceleratedClock, dlmsLimits: DLMSMeterLimits = DLMSMeterLimits(), turnaround: ClosedRange<Int> = 5...10,
         statusInputs: Bool = false) throws {
        self.clock = clock
        link = directory.file("bus")
        servedLog = directory.file("served.jsonl")
        let modbus = ShippedProfiles.get("eastron-sdm120"), open = ShippedProfiles.get("kamstrup-omnipower")
        var hls = ShippedProfiles.get("landis-gyr-e450"), iecProfile = Self.iecProfile
        if statusInputs {
            hls.dlms!.alarmRegister = Self.alarmRegister
            iecProfile.iec!.errorCode = Self.errorCode
        }
        let dlms: [(UInt8, MeterProfile)] = [(17, hls), (18, open), (19, Self.llsProfile)]
        var setups = [1, 2].map { SimulatedMeterSetup(address: UInt8($0), profile: modbus, turnaroundMilliseconds: turnaround) }
        setups += dlms.map { SimulatedMeterSetup(address: $0.0, profile: $0.1, turnaroundMilliseconds: turnaround) }
        var configuration = SimulatorConfiguration(
            line: LineSettings(baud: 38_400), meters: setups, seed: Self.seed, clock: clock, linkPath: link, servedLogPath: servedLog,
            iecMeters: ["00000001", "00000002"].map { IECSimulatedMeterSetup(deviceAddress: $0, profile: iecProfile, password: Self.iecPassword) })
        configuration.dlms.defaultKeys = DLMSSecurityKeys(encryption: DLMSKey(Self.encryptionKey)!, authentication: DLMSKey(Self.authenticationKey)!)
        configuration.dlms.defaultPassword = Self.llsPassword
        configuration.dlms.limits = dlmsLimits
        simulator = try SimulatedBus(configuration: configuration)
        try simulator.start()
        var meters: [(MeterSettings, MeterProfile)] = [1, 2].map { (MeterSettings(id: MeterID("m\($0)"), bus: "bus1", address: .modbus(UInt8($0)), profile: modbus.id), modbus) }
        meters += dlms.map { (MeterSettings(id: MeterID("d\($0.0)"), bus: "bus1", protocolKind: .dlms, address: .hdlc(UInt16($0.0)), profile: $0.1.id), $0.1) }
        meters += ["00000001", "00000002"].map {
            (MeterSettings(id: MeterID("i\($0.suffix(1))"), bus: "bus1", protocolKind: .iec62056_21, address: .iecDevice($0), profile: iecProfile.id), iecProfile)
        }
        self.meters = meters
        secrets.set("d17", ["encryption": Self.encryptionKey, "authentication": Self.authenticationKey])
        secrets.set("d19", ["password": Self.llsPassword])
        for m in ["i1", "i2"] { secrets.set(MeterID(m), ["p1": Array(Self.iecPassword.utf8)]) }
    }

    deinit { simulator.stop() }

    var services: BusMeterServices {
        let audit = self.audit
        return BusMeterServices(secrets: secrets, invocationCounters: counters, clientSystemTitle: BusMeterServices.systemTitle(deviceID: "gw-test"),
                                auditClockSet: { audit.add($0) })
    }

    var busSettings: BusSettings {
        BusSettings(name: "bus1", device: link, line: LineSettings(baud: 38_400), responseTimeoutMilliseconds: 100...1000, retries: 1)
    }

    func owner(sink: any SnapshotSink, schedule: BusSchedule = BusSchedule(archive: ArchiveSettings()), events: EventLog = EventLog()) -> BusOwner {
        BusOwner(settings: busSettings, meters: meters, schedule: schedule, clock: clock, sink: sink, logger: testLogger,
                 clockSynchronised: { true }, services: services, onEvent: { events.add($0) })
    }

    var served: [ServedLine] { ServedLogReader.read(servedLog) }

    /// The value the simulated DLMS meter at `address` records in its load profile for `quantity`
    /// at `time` (what a client decodes from the profile's raw value with the column's scaler and unit).
    func dlmsProfileValue(address: UInt8, profile: MeterProfile, quantity: QuantityID, at time: Timestamp) -> Double? {
        guard let column = profile.dlms?.loadProfiles.flatMap(\.captureObjects).first(where: { $0.quantity == quantity }),
              let s = column.scaler, let u = column.unit else { return nil }
        let meter = SimulatedMeter(setup: SimulatedMeterSetup(address: address, profile: profile), seed: Self.seed)
        return DLMSMeterObjects.encode(meter.values(at: time)[quantity] ?? 0, quantity: quantity, scalerUnit: COSEMScalerUnit(scaler: s, unit: u)).served
    }
}
