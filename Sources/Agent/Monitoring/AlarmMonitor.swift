import Archive
import Commands
import ConcentratorCore
import Logging
import Monitoring
import Platform

/// The alarm side of edge monitoring: one `AlarmEngine`, fed from one place — its own serial thread
/// (`alarms`) — with stored snapshots (values and status flags), the meters' offline/online events,
/// finished quarter-hours with their spike baseline from the archive, acknowledgements and the
/// passing of time. Every result with transitions is stored with the encoded state in one archive
/// transaction and sent at once as an event batch (`MonitoringRecorder`). Docs/edge-monitoring.md.
final class AlarmMonitor: @unchecked Sendable {
    private let worker = SerialWorker(name: "alarms")
    private let recorder: MonitoringRecorder
    private let environment: MonitoringEnvironment
    private let config: ConcentratorConfig
    /// The named bits of each meter's status input (Modbus status register, DLMS alarm register, IEC error code).
    private let statusBits: [MeterID: [ModbusStatusSpec.Bit]]
    private let zone: ZoneRules?
    /// Touched only on `worker`.
    private var engine: AlarmEngine
    private var lastPersisted: [UInt8] = []
    private var lastPersistTime: Timestamp?

    /// The quantities zero-consumption rules watch: left out of observations read with an unsynchronised clock.
    private let zeroConsumptionQuantities: Set<QuantityID>
    /// (rule quantity, days) of the spike rules, by meter.
    private let spikeRules: [MeterID: [(quantity: QuantityID, days: Int)]]

    init(setup: AgentSetup, environment: MonitoringEnvironment) {
        self.environment = environment
        recorder = MonitoringRecorder(environment: environment)
        config = setup.config
        zone = setup.zone
        var bits: [MeterID: [ModbusStatusSpec.Bit]] = [:]
        for (meter, profile) in setup.config.buses.flatMap({ setup.meters(on: $0.name) }) where !profile.statusBits.isEmpty {
            bits[meter.id] = profile.statusBits
        }
        statusBits = bits
        var persisted: [AlarmKey: AlarmInstanceState] = [:]
        if let bytes = try? environment.archive.reader.monitoringState(.alarms) {
            do { persisted = try AlarmStateCodec.decode(bytes) } catch {
                environment.logger.error("monitoring: \(error); every alarm starts inactive")
            }
            lastPersisted = bytes
        }
        engine = AlarmEngine(config: setup.config, restoring: persisted)
        if !engine.droppedKeys.isEmpty {
            environment.logger.notice("monitoring: alarm states of removed rules or meters dropped: \(engine.droppedKeys.map(\.description).joined(separator: ", "))")
        }
        var zero: Set<QuantityID> = []
        var spikes: [MeterID: [(QuantityID, Int)]] = [:]
        for rule in setup.config.monitoring?.alarms ?? [] {
            switch rule.condition {
            case .zeroConsumption(let q, _, _): zero.insert(q)
            case .spike(let q, _, let days, _, _):
                for m in rule.meters(in: setup.config) { spikes[m, default: []].append((q, days)) }
            default: break
            }
        }
        zeroConsumptionQuantities = zero
        spikeRules = spikes
        let open = engine.openAlarms.count
        environment.logger.info("monitoring: \(engine.rules.count) alarms watched (\(open) open after restore)")
    }

    var watchesAnything: Bool { !engine.rules.isEmpty }

    // MARK: Inputs (any thread; queued to the alarm thread)

    /// Snapshots committed to the archive (the snapshot sink calls this after the commit).
    func snapshotsStored(_ snapshots: [MeterSnapshot], series: SeriesKind) {
        worker.enqueue { [self] in
            var transitions: [AlarmTransition] = []
            for snapshot in snapshots {
                let flags = snapshot.status.flatMap { raw in statusBits[snapshot.meter].map { $0.flags(fromRaw: raw) } } ?? [:]
                var observation = MeterObservation(snapshot: snapshot, flags: flags)
                if snapshot.clockUnsynced { for q in zeroConsumptionQuantities { observation.values[q] = nil } }
                transitions += engine.observe(observation)
            }
            if let boundary = snapshots.first?.intervalStart, boundary.milliseconds % 900_000 == 0 {
                transitions += quarterHourObservations(ending: boundary, meters: snapshots.map(\.meter)).flatMap { engine.observe($0) }
            }
            persist(transitions)
        }
    }

    /// Values of the live cadence (no status register; zero-consumption quantities left out, they
    /// follow the archived reads only): threshold and mains rules react within a live period.
    func liveValuesRead(_ snapshot: MeterSnapshot) {
        worker.enqueue { [self] in
            var observation = MeterObservation(snapshot: snapshot)
            for q in zeroConsumptionQuantities { observation.values[q] = nil }
            persist(engine.observe(observation))
        }
    }

    /// A gateway event: meters going offline or answering again feed communication-lost rules.
    func eventRecorded(_ event: GatewayEvent) {
        guard event.kind == .meterOffline || event.kind == .meterOnline, let meter = event.meter else { return }
        worker.enqueue { [self] in
            persist(engine.observe(CommunicationChange(meter: meter, time: event.time, answering: event.kind == .meterOnline)))
        }
    }

    /// Time passes: communication-lost alarms past their minimum duration, the end of flapping.
    func advance() {
        worker.enqueue { [self] in persist(engine.advance(to: environment.clock.now())) }
    }

    // MARK: Commands and views (blocking; dedicated threads)

    func acknowledge(rule: String, meter: MeterID) -> AlarmAcknowledgement {
        (try? worker.runBlocking { [self] () -> AlarmAcknowledgement in
            switch engine.acknowledge(AlarmKey(rule: rule, meter: meter), at: environment.clock.now()) {
            case .acknowledged(let transition):
                persist([transition])
                return .acknowledged(occurrence: transition.occurrence)
            case .alreadyAcknowledged: return .alreadyAcknowledged
            case .notOpen(let phase): return .notOpen(phase: phase.name)
            case .unknownAlarm: return .unknownAlarm
            }
        }) ?? .unknownAlarm
    }

    /// Every alarm that is not inactive, sorted by key.
    func alarms() -> [(key: AlarmKey, rule: AlarmRule, state: AlarmInstanceState)] {
        (try? worker.runBlocking { [self] in
            engine.states.filter { $0.value.phase != .inactive }.sorted { $0.key < $1.key }
                .compactMap { key, state in engine.rules[key].map { (key, $0, state) } }
        }) ?? []
    }

    /// Writes the state one last time and ends the alarm thread, waiting at most until `deadline`.
    func stop(deadline: ContinuousClock.Instant) -> Bool {
        let done = OneShot<Bool>()
        worker.enqueue { [self] in
            persist([], force: true)
            _ = done.set(true)
        }
        worker.stop()
        return done.wait(timeout: max(.zero, deadline - .now)) ?? false
    }

    // MARK: On the alarm thread

    /// Stores the state with the transitions' events (one transaction), or the state alone when it
    /// changed and was not written for ten minutes (a pending alarm's start, a zero-consumption baseline).
    private func persist(_ transitions: [AlarmTransition], force: Bool = false) {
        let now = environment.clock.now()
        let due = force || (lastPersistTime.map { now.milliseconds - $0.milliseconds >= 600_000 } ?? true)
        guard !transitions.isEmpty || due else { return }
        let bytes = AlarmStateCodec.encode(engine.states)
        guard !transitions.isEmpty || bytes != lastPersisted else { return }
        for t in transitions {
            environment.logger.notice("alarm \(t.kind.rawValue): \(t.key) value \(t.value.map { DecimalText.format($0, maximumFractionDigits: 3) } ?? "-") threshold \(t.threshold.map { DecimalText.format($0, maximumFractionDigits: 3) } ?? "-") phase \(t.phase.name)")
        }
        if recorder.record([(.alarms, bytes)], events: transitions.map(\.event)) {
            lastPersisted = bytes
            lastPersistTime = now
        }
    }

    /// The quarter-hour that ended at `end` for each meter with spike rules, with the baseline of the
    /// same local quarter-hour on earlier days: counters give the quarter-hour's increase (derived from
    /// the reads as the load curve is), momentary quantities the value read in the quarter-hour.
    private func quarterHourObservations(ending end: Timestamp, meters: [MeterID]) -> [QuarterHourObservation] {
        guard let zone else { return [] }
        let start = end.adding(seconds: -900)
        var out: [QuarterHourObservation] = []
        for meter in Set(meters).sorted(by: { $0.rawValue < $1.rawValue }) {
            for (quantity, days) in spikeRules[meter] ?? [] {
                let from = start.adding(seconds: -Int64(days + 1) * 86_400 - 1800)
                let to = end.adding(seconds: 1800)
                var reads: [(time: Timestamp, value: Double)] = []
                for series in SeriesKind.allCases {
                    reads += (try? environment.archive.reader.quantityValues(meter: meter, quantity: quantity, from: from, to: to,
                                                                              series: series)) ?? []
                }
                let values = Self.quarterHourSeries(reads, quantity: quantity, from: from, to: end)
                guard let value = values[start] else { continue }
                let baseline = SpikeBaseline.values(series: values, intervalStart: start, days: days, zone: zone)
                out.append(QuarterHourObservation(meter: meter, quantity: quantity, intervalStart: start, value: value, baseline: baseline))
            }
        }
        return out
    }

    /// Quarter-hour start → value: increases for counters (`LoadCurveDeriver.deltas`), the last value
    /// read inside the quarter-hour for momentary quantities.
    static func quarterHourSeries(_ reads: [(time: Timestamp, value: Double)], quantity: QuantityID, from: Timestamp,
                                  to: Timestamp) -> [Timestamp: Double] {
        var out: [Timestamp: Double] = [:]
        let first = Timestamp(milliseconds: (from.milliseconds / 900_000 + 1) * 900_000)
        if QuantityCatalog.definition(of: quantity)?.kind == .counter {
            let points = LoadCurveDeriver.deltas(reads: reads.map { CounterRead(time: $0.time, value: $0.value) }, from: first, to: to)
            for p in points { if let v = p.value { out[p.start] = v } }
        } else {
            for r in reads.sorted(by: { $0.time < $1.time }) where r.time >= first && r.time < to {
                out[Timestamp(milliseconds: r.time.milliseconds - r.time.milliseconds % 900_000)] = r.value
            }
        }
        return out
    }
}
