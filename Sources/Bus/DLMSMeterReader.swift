import ConcentratorCore
import MeterProtocols
import Platform

/// Reads a DLMS/COSEM meter through the bus owner's port: one association per poll (registers by
/// the profile's read plan, scaler_units read once and kept, the clock in the same association),
/// then the release. A meter clock beyond the configured threshold is set in the same association
/// when the gateway's clock is synchronised. Failures are typed per meter (`MeterSessionError`):
/// a wrong key is a security failure of that meter alone.
enum DLMSMeterReader {
    /// With `readStatus`, the profile's alarm register is read in the same association (alarm rules' flags).
    static func poll(_ meter: PolledMeter, link: DLMSMeterLink, scope: MeterReadScope, bus: BusOwner, readStatus: Bool = false) -> MeterPoll {
        let wanted = meter.quantities(scope)
        let objects = link.section.objects.filter { wanted?.contains($0.quantity) ?? true }
        let plan = DLMSReadPlan(objects: objects, known: link.scalerUnits)
        let clock = link.section.clock.map(COSEMLogicalName.init)
        let readsClock = clock != nil && scope == .all
        let exchange: DLMSBusExchange
        switch DLMSBusExchange.open(bus: bus, meter: meter, link: link) {
        case .success(let e): exchange = e
        case .failure(let f): return failed(f, quantities: objects.map(\.quantity))
        }
        defer { exchange.release() }
        let alarm = readStatus ? link.section.alarmRegister.map { COSEMLogicalName($0.logicalName) } : nil
        let clockOperations = readsClock ? DLMSOperations.readClock(clock!) : []
        let operations = plan.operations + clockOperations + (alarm.map(DLMSOperations.readAlarmRegister) ?? [])
        let results: [DLMSOperationResult]
        switch exchange.perform(operations) {
        case .success(let r): results = r
        case .failure(let e): return failed(exchange.failure(e), quantities: objects.map(\.quantity))
        }
        let read = plan.values(from: Array(results.prefix(plan.operations.count)))
        link.scalerUnits = read.scalerUnits
        var poll = MeterPoll(values: read.values)
        if let error = read.values.lazy.compactMap(\.error).first { poll.valueError = error }
        if alarm != nil, let last = results.last, results.count == operations.count { poll.status = DLMSOperations.alarmBits(from: last) }
        let clockResults = Array(results.dropFirst(plan.operations.count).prefix(clockOperations.count))
        if readsClock, let clock, let time = DLMSOperations.clock(from: clockResults)?.timestamp {
            let reading = MeterClockReading(meterTime: time, gatewayTime: bus.clock.now())
            poll.meterTime = time
            if let threshold = bus.schedule.meterClockThreshold, bus.clockSynchronised(),
               case .success(let outcome) = setClockIfDrifted(exchange, clock: clock, before: reading, threshold: threshold),
               let setTo = outcome.setTo {
                poll.clockSet = MeterClockSetRecord(bus: bus.name, meter: meter.id, before: reading, setTo: setTo,
                                                    after: outcome.after, reason: "threshold", keyIDs: link.keyIDs)
            }
        }
        poll.transactions = exchange.transactions
        poll.wireMilliseconds = exchange.wireMilliseconds
        return poll
    }

    /// What a clock check did: the reading before, the time written (nil: within the threshold), the read-back.
    struct ClockOutcome {
        var before: MeterClockReading
        var setTo: Timestamp?
        var after: MeterClockReading?
    }

    /// Sets the clock to the gateway's time when `before` drifts beyond `threshold`, then reads it back.
    static func setClockIfDrifted(_ exchange: DLMSBusExchange, clock: COSEMLogicalName, before: MeterClockReading,
                                  threshold: Duration) -> Result<ClockOutcome, MeterSessionError> {
        guard abs(before.driftMilliseconds) > max(Int64(threshold.inMilliseconds), 999) else {
            return .success(ClockOutcome(before: before))
        }
        let bus = exchange.bus
        // The SET arrives about one turnaround after it is written.
        let target = bus.clock.now().adding(milliseconds: Int64(exchange.meter.timer.smoothedMilliseconds ?? 0))
        let results: [DLMSOperationResult]
        switch exchange.perform(DLMSOperations.setClock(target, clock: clock) + DLMSOperations.readClock(clock)) {
        case .success(let r): results = r
        case .failure(let e): return .failure(e)
        }
        guard DLMSOperations.succeeded(Array(results.prefix(1))) else {
            return .failure(MeterSessionError(.refused, "meter \(exchange.meter.id) refused the clock set (\(results.first.map { "\($0)" } ?? "no answer"))"))
        }
        let after = DLMSOperations.clock(from: Array(results.suffix(1)))?.timestamp.map {
            MeterClockReading(meterTime: $0, gatewayTime: bus.clock.now())
        }
        return .success(ClockOutcome(before: before, setTo: target, after: after))
    }

    /// Reads the clock and sets it beyond `threshold` (the `time.sync` command and the console).
    static func synchroniseClock(_ meter: PolledMeter, link: DLMSMeterLink, threshold: Duration,
                                 bus: BusOwner) -> Result<ClockOutcome, DLMSExchangeFailure> {
        guard let clock = link.section.clock.map(COSEMLogicalName.init) else {
            return .failure(DLMSExchangeFailure(error: MeterSessionError(.refused, "the profile \(meter.profile.id) declares no clock")))
        }
        let exchange: DLMSBusExchange
        switch DLMSBusExchange.open(bus: bus, meter: meter, link: link) {
        case .success(let e): exchange = e
        case .failure(let f): return .failure(f)
        }
        defer { exchange.release() }
        let results: [DLMSOperationResult]
        switch exchange.perform(DLMSOperations.readClock(clock)) {
        case .success(let r): results = r
        case .failure(let e): return .failure(exchange.failure(e))
        }
        guard let time = DLMSOperations.clock(from: results)?.timestamp else {
            return .failure(exchange.failure(MeterSessionError(.malformed, "the clock of meter \(meter.id) is not a valid date-time")))
        }
        let before = MeterClockReading(meterTime: time, gatewayTime: bus.clock.now())
        return setClockIfDrifted(exchange, clock: clock, before: before, threshold: threshold).mapError { exchange.failure($0) }
    }

    /// remote_reconnect (`connect` true) or remote_disconnect (false) on the disconnect control,
    /// or only its state (nil); returns output_state.
    static func switchSupply(_ meter: PolledMeter, link: DLMSMeterLink, connect: Bool?, bus: BusOwner) -> Result<Bool, DLMSExchangeFailure> {
        guard let object = link.section.disconnectControl.map(COSEMLogicalName.init) else {
            return .failure(DLMSExchangeFailure(error: MeterSessionError(.refused, "the profile \(meter.profile.id) declares no disconnect control")))
        }
        let exchange: DLMSBusExchange
        switch DLMSBusExchange.open(bus: bus, meter: meter, link: link) {
        case .success(let e): exchange = e
        case .failure(let f): return .failure(f)
        }
        defer { exchange.release() }
        let operations = connect.map { DLMSOperations.switchSupply(connect: $0, object: object) } ?? DLMSOperations.readDisconnectState(object)
        switch exchange.perform(operations) {
        case .success(let results):
            if connect != nil, case .done(let result, _) = results[0], result != 0 {
                return .failure(exchange.failure(MeterSessionError(.refused, "meter \(meter.id) refused remote_\(connect! ? "reconnect" : "disconnect") (action result \(result))")))
            }
            guard let state = DLMSOperations.disconnectState(from: results) else {
                return .failure(exchange.failure(MeterSessionError(.malformed, "meter \(meter.id) answered no output_state")))
            }
            return .success(state.connected)
        case .failure(let e):
            return .failure(exchange.failure(e))
        }
    }

    static func failed(_ f: DLMSExchangeFailure, quantities: [QuantityID]) -> MeterPoll {
        var poll = MeterPoll(failed: f.code, quantities: quantities, detail: f.portFailure ?? f.error.description)
        poll.transactions = f.transactions
        poll.wireMilliseconds = f.wireMilliseconds
        return poll
    }
}
