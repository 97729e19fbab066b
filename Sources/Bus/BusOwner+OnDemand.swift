import ConcentratorCore
import MeterProtocols
import Platform

/// A single-step task that runs a closure on the bus thread and hands its result back.
final class OneShotTask<T>: BusTask {
    let priority: BusTaskPriority
    private let body: (BusOwner) -> Result<T, BusError>
    let pending = PendingResult<T>()

    init(priority: BusTaskPriority, body: @escaping (BusOwner) -> Result<T, BusError>) {
        self.priority = priority
        self.body = body
    }

    func step(_ bus: BusOwner) -> Bool {
        if pending.markStarted() { pending.finish(body(bus)) }
        return true
    }

    func abandon(_ error: BusError) { pending.finish(.failure(error)) }
}

extension BusOwner {
    /// Runs `body` on the bus thread ahead of scheduled work and waits for it (blocking: call from a
    /// dedicated thread). Work that cannot start within `startDeadline` fails with `busBusy`.
    func perform<T>(priority: BusTaskPriority = .urgent, startDeadline: Duration,
                    _ body: @escaping (BusOwner) -> Result<T, BusError>) -> Result<T, BusError> {
        let task = OneShotTask(priority: priority, body: body)
        enqueue(task)
        return task.pending.wait(startDeadline: startDeadline, bus: name)
    }

    /// Whether `meter` is on this bus.
    public func owns(_ meter: MeterID) -> Bool { meters.contains { $0.id == meter } }

    /// Reads `meter` now, ahead of scheduled work: every quantity, or the given ones. Blocking.
    public func readNow(meter id: MeterID, quantities: Set<QuantityID>? = nil,
                        startDeadline: Duration = .seconds(30)) -> Result<MeterSnapshot, BusError> {
        guard let meter = meters.first(where: { $0.id == id }) else { return .failure(.unknownMeter(id)) }
        let scope = quantities.map { MeterReadScope.quantities($0) } ?? .all
        return perform(startDeadline: startDeadline) { bus in
            let poll = bus.poll(meter, scope: scope)
            let snapshot = bus.snapshot(of: meter, boundary: bus.clock.now(), values: poll.values, meterTime: poll.meterTime)
            if let failure = poll.transportFailure { return .failure(.transaction(id, failure)) }
            return .success(snapshot)
        }
    }

    /// Switches a meter's breaking relay (a Modbus coil, or a DLMS disconnect control (class 70),
    /// declared by its profile) and reads it back.
    public func setRelay(meter id: MeterID, connected: Bool?, startDeadline: Duration = .seconds(30)) -> Result<Bool, BusError> {
        guard let meter = meters.first(where: { $0.id == id }) else { return .failure(.unknownMeter(id)) }
        if let dlms = meter.dlms {
            guard dlms.section.disconnectControl != nil else {
                return .failure(.unsupported("meter \(id)'s profile \(meter.profile.id) declares no disconnect control"))
            }
            return perform(startDeadline: startDeadline) { bus in
                DLMSMeterReader.switchSupply(meter, link: dlms, connect: connected, bus: bus).mapError { .transaction(id, $0.code) }
            }
        }
        guard let relay = meter.profile.modbus?.relay else {
            return .failure(.unsupported("meter \(id)'s profile \(meter.profile.id) declares no relay"))
        }
        return perform(startDeadline: startDeadline) { bus in
            guard bus.line.ensureOpen() == nil, let master = bus.line.modbusMaster() else {
                return .failure(.transaction(id, .portUnavailable))
            }
            let timeout = Duration.milliseconds(Int64(bus.settings.responseTimeoutMilliseconds.upperBound))
            if let connected {
                bus.line.waitForSilence()
                let written = master.writeCoil(slave: meter.slave, address: relay.coil, on: connected, timeout: timeout,
                                               byteTimeout: .milliseconds(50))
                bus.line.markFrameEnd()
                if case .failure(let e) = written { return .failure(.transaction(id, e.meterError)) }
            }
            bus.line.waitForSilence()
            let state = master.readCoils(slave: meter.slave, start: relay.coil, count: 1, timeout: timeout, byteTimeout: .milliseconds(50))
            bus.line.markFrameEnd()
            switch state {
            case .success(let bits): return .success(bits[0])
            case .failure(let e): return .failure(.transaction(id, e.meterError))
            }
        }
    }
}

extension BusOwner {
    /// Reads a meter's clock (declared by its profile) and, when it differs from the gateway's by
    /// more than `threshold`, sets it to the gateway's time (function 16) and reads it back. Blocking.
    public func synchroniseClock(meter id: MeterID, threshold: Duration,
                                 startDeadline: Duration = .seconds(30)) -> Result<MeterClockSync, BusError> {
        guard let meter = meters.first(where: { $0.id == id }) else { return .failure(.unknownMeter(id)) }
        if meter.dlms != nil || meter.iec != nil {
            return synchroniseProtocolClock(meter, threshold: threshold, startDeadline: startDeadline)
        }
        guard let clock = meter.profile.modbus?.clock else {
            return .failure(.unsupported("meter \(id)'s profile \(meter.profile.id) declares no settable clock"))
        }
        let thresholdMilliseconds = Int64(threshold.inMilliseconds)
        return perform(startDeadline: startDeadline) { bus in
            guard bus.line.ensureOpen() == nil, let master = bus.line.modbusMaster() else {
                return .failure(.transaction(id, .portUnavailable))
            }
            let timeout = Duration.milliseconds(Int64(bus.settings.responseTimeoutMilliseconds.upperBound))
            func read() -> Result<MeterClockReading, BusError> {
                bus.line.waitForSilence()
                let words = master.readRegisters(slave: meter.slave, function: .readHoldingRegisters, start: clock.address,
                                                 count: clock.format.registerCount, timeout: timeout, byteTimeout: .milliseconds(50))
                bus.line.markFrameEnd()
                switch words {
                case .success(let w):
                    guard let time = clock.time(from: w) else { return .failure(.transaction(id, .malformedResponse)) }
                    return .success(MeterClockReading(meterTime: time, gatewayTime: bus.clock.now()))
                case .failure(let e): return .failure(.transaction(id, e.meterError))
                }
            }
            let before: MeterClockReading
            switch read() {
            case .success(let r): before = r
            case .failure(let e): return .failure(e)
            }
            // The clock counts whole seconds: a drift below one second cannot be corrected.
            guard abs(before.driftMilliseconds) > max(thresholdMilliseconds, 999) else {
                return .success(MeterClockSync(before: before, after: nil))
            }
            let now = bus.clock.now()
            bus.line.waitForSilence()
            let written = master.writeRegisters(slave: meter.slave, start: clock.address,
                                                values: clock.registers(for: Timestamp(seconds: (now.milliseconds + 500) / 1000)),
                                                timeout: timeout, byteTimeout: .milliseconds(50))
            bus.line.markFrameEnd()
            if case .failure(let e) = written { return .failure(.transaction(id, e.meterError)) }
            let after = read()
            bus.recordClockSet(MeterClockSetRecord(bus: bus.name, meter: id, before: before, setTo: now, after: try? after.get(),
                                                   reason: "command", keyIDs: []))
            return after.map { MeterClockSync(before: before, after: $0) }
        }
    }

    /// `synchroniseClock` for DLMS (class 8 read and set) and IEC 62056-21 meters (programming
    /// mode: R5 reads, W1 writes with the P1 password).
    private func synchroniseProtocolClock(_ meter: PolledMeter, threshold: Duration,
                                          startDeadline: Duration) -> Result<MeterClockSync, BusError> {
        let id = meter.id
        if meter.dlms?.section.clock == nil, meter.iec?.profile.clock == nil {
            return .failure(.unsupported("meter \(id)'s profile \(meter.profile.id) declares no clock"))
        }
        return perform(startDeadline: startDeadline) { bus in
            let outcome: Result<DLMSMeterReader.ClockOutcome, BusError>
            let keys: [String]
            if let dlms = meter.dlms {
                outcome = DLMSMeterReader.synchroniseClock(meter, link: dlms, threshold: threshold, bus: bus).mapError { .transaction(id, $0.code) }
                keys = dlms.keyIDs
            } else {
                let iec = meter.iec!
                outcome = IECMeterReader.synchroniseClock(meter, link: iec, threshold: threshold, bus: bus)
                    .mapError { .transaction(id, MeterErrorCode($0)) }
                keys = iec.profile.passwordID.map { [$0] } ?? []
            }
            return outcome.map { o in
                if let setTo = o.setTo {
                    bus.recordClockSet(MeterClockSetRecord(bus: bus.name, meter: id, before: o.before, setTo: setTo, after: o.after,
                                                           reason: "command", keyIDs: keys))
                }
                // A set whose read-back failed still counts as set (after = the time written).
                let after = o.setTo.map { o.after ?? MeterClockReading(meterTime: $0, gatewayTime: $0) }
                return MeterClockSync(before: o.before, after: after)
            }
        }
    }
}
