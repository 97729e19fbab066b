#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import MeterProtocols
import Platform

/// What one request turns into on the line: the bytes to send (nil: stay silent), when, and the record.
struct PlannedAnswer {
    var bytes: [UInt8]?
    var turnaroundMilliseconds: Int
    var record: ServedRecord
}

/// How waiting on the line ended.
enum LineWait {
    /// The deadline passed quietly.
    case reached
    /// The client sent bytes: on a half-duplex line that garbles both sides.
    case collision
    /// Stop or vanish was requested.
    case interrupted
}

extension SimulatedBus {
    /// The line thread: receive requests, answer after the turnaround, pace every byte; vanish and
    /// come back on request. Runs until `stop()`.
    func runLine() {
        var assembler = FrameAssembler(line: configuration.line)
        while true {
            let (stopping, away) = lock.withLock { (stopRequested, vanishUntil) }
            if stopping { break }
            if let until = away {
                stayAway(until: until)
                assembler = FrameAssembler(line: configuration.line)
                continue
            }
            guard let pty else { break }
            switch waitForInput(pty, until: assembler.silenceDeadline) {
            case .wake: wake.drain()
            case .input:
                let bytes = pty.readAvailable()
                if assembler.buffer.isEmpty, opensIECExchange(bytes) {
                    serveIECExchange(startingWith: bytes, on: pty, assembler: &assembler) // IEC62056/IECLineExchange.swift
                } else {
                    assembler.receive(bytes, at: .now())
                }
            case .timeout: break
            }
            while let frame = assembler.takeCompleteFrame() {
                if !assembler.buffer.isEmpty {
                    // The master kept talking right after a complete request: nobody can answer.
                    assembler.poison()
                    break
                }
                serve(frame, on: pty, assembler: &assembler)
            }
            if let frame = assembler.takeSilentFrame(now: .now()) { serve(frame, on: pty, assembler: &assembler) }
        }
        closeLine()
    }

    enum InputWait { case input, wake, timeout }

    func waitForInput(_ pty: PseudoTerminal, until deadline: MonotonicInstant?) -> InputWait {
        var fds = [pollfd(fd: pty.masterFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0)]
        var timeout: Int32 = -1
        if let deadline {
            let remaining = deadline.nanoseconds - MonotonicInstant.now().nanoseconds
            guard remaining > 0 else { return .timeout }
            timeout = Int32((remaining + 999_999) / 1_000_000)
        }
        let n = poll(&fds, 2, timeout)
        if n <= 0 { return .timeout }
        if fds[1].revents != 0 { return .wake }
        if fds[0].revents & Int16(POLLIN) != 0 { return .input }
        // POLLHUP/POLLERR without data: do not spin.
        sleepThread(.milliseconds(5))
        return .timeout
    }

    /// The port is away: closed, link removed, until `until` (which a new vanish may move) or stop.
    private func stayAway(until: MonotonicInstant) {
        closeLine()
        let seconds = Double(until.nanoseconds - MonotonicInstant.now().nanoseconds) / 1e9
        logger.notice("line vanished", metadata: ["back-in-seconds": "\(max(0, seconds))"])
        let stopping: Bool = lock.withLock {
            while !stopRequested, let deadline = vanishUntil {
                let remaining = deadline.nanoseconds - MonotonicInstant.now().nanoseconds
                if remaining <= 0 { break }
                lock.wait(for: .nanoseconds(remaining))
            }
            vanishUntil = nil
            return stopRequested
        }
        wake.drain()
        if stopping { return }
        do {
            try openLine()
        } catch {
            logger.error("cannot bring the line back, retrying in 1 s", metadata: ["error": "\(error)"])
            lock.withLock { vanishUntil = MonotonicInstant.now().adding(nanoseconds: 1_000_000_000) }
        }
    }

    /// Answers one received frame, if a meter is addressed and the fault table lets it.
    private func serve(_ frame: ReceivedFrame, on pty: PseudoTerminal, assembler: inout FrameAssembler) {
        if frame.bytes.count > 2, frame.bytes[0] == 0x7E, frame.bytes[1] >> 4 == 0xA {
            return serveHDLC(frame, on: pty, assembler: &assembler) // LineLoop+DLMS.swift
        }
        if mbusSegment != nil { return serveMBus(frame, on: pty, assembler: &assembler) }
        guard frame.bytes.count >= 4, ModbusCRC.isValid(frame.bytes) else {
            logger.debug("discarded a frame with a bad CRC", metadata: ["bytes": "\(frame.bytes.count)"])
            return
        }
        guard frame.bytes[0] != 0 else { return } // broadcast: nobody answers
        let now = configuration.clock.now()
        guard let plan = lock.withLock({ planAnswer(frame.bytes, at: now) }) else { return }
        guard let bytes = plan.bytes else {
            servedLog?.append(plan.record)
            return
        }
        let start = frame.end.adding(nanoseconds: Int64(plan.turnaroundMilliseconds) * 1_000_000)
        // The record goes out just before the answer's last byte: a client that has the answer can
        // read it in the log, and an answer cut by a collision is logged as such, once.
        let outcome = transmit(bytes, startingAt: start, on: pty, assembler: &assembler) { [servedLog] in
            servedLog?.append(plan.record)
        }
        switch outcome {
        case .reached:
            break
        case .collision, .interrupted:
            var cut = ServedRecord(time: plan.record.time, slave: plan.record.slave, function: plan.record.function,
                                   start: plan.record.start, count: plan.record.count)
            cut.fault = outcome == .collision ? "collision" : "port-closed"
            servedLog?.append(cut)
            logger.info("answer cut", metadata: ["slave": "\(cut.slave)", "reason": "\(cut.fault!)"])
        }
    }

    /// Decides the answer (call with the lock held). Nil: no meter there, or a malformed request.
    private func planAnswer(_ bytes: [UInt8], at now: Timestamp) -> PlannedAnswer? {
        let slave = bytes[0], function = bytes[1]
        guard var meter = meters[slave] else { return nil }
        let fault = faults.fault(for: slave).forModbus
        var record = ServedRecord(time: now, slave: slave, function: function)
        var request: ModbusRequest?
        var rejection: UInt8 = 0
        do {
            request = try ModbusRTUFrame.decodeRequest(bytes)
        } catch .unsupportedFunction {
            rejection = 1 // illegal function
        } catch .invalidQuantity, .invalidCoilValue {
            rejection = 3 // illegal data value
        } catch {
            return nil
        }
        if let request { describe(request, in: &record) }
        if fault != .none { record.fault = fault.description }
        var turnaround = meter.turnaroundMilliseconds
        let response: ModbusResponsePDU
        switch fault {
        case .silence:
            return PlannedAnswer(bytes: nil, turnaroundMilliseconds: 0, record: record)
        case .exception(let code):
            response = .exception(function: function, code: code)
        case .holes where request.map { Self.touchesHole($0, fault) } == true:
            response = .exception(function: function, code: 2)
        case .none, .badCRC, .garbage, .slow, .dropAssociation, .holes:
            if let request {
                let answer = meter.respond(to: request, at: now)
                meters[slave] = meter
                response = answer.response
                if fault == .none || fault.isSlow || fault.isHoles {
                    switch answer.response {
                    case .registers: record.values = answer.values
                    case .coils(let bits): record.coils = bits
                    default: break
                    }
                }
            } else {
                response = .exception(function: function, code: rejection)
            }
            if case .slow(let ms) = fault { turnaround += ms }
        }
        if case .exception(_, let code) = response, fault != .badCRC, fault != .garbage { record.exception = code }
        var wire = ModbusRTUFrame.encode(response: response, slave: slave, function: function)
        switch fault {
        case .badCRC:
            wire[wire.count - 1] ^= 0xFF
        case .garbage:
            wire = wire.map { _ in UInt8(truncatingIfNeeded: garbageSource.next()) }
            if ModbusCRC.isValid(wire) { wire[wire.count - 1] ^= 0xFF }
        default:
            break
        }
        answered += 1
        return PlannedAnswer(bytes: wire, turnaroundMilliseconds: turnaround, record: record)
    }

    private func describe(_ request: ModbusRequest, in record: inout ServedRecord) {
        switch request.pdu {
        case .readCoils(let s, let c), .readHoldingRegisters(let s, let c), .readInputRegisters(let s, let c):
            record.start = s
            record.count = c
        case .writeSingleCoil(let a, let on):
            record.start = a
            record.coilWritten = on
        case .writeSingleRegister(let a, _):
            record.start = a
        case .writeMultipleRegisters(let s, let values):
            record.start = s
            record.count = UInt16(values.count)
        }
    }

    /// Waits out the turnaround, then sends `bytes` one character time apart (absolute deadlines;
    /// the line's character time unless `characterNanoseconds` gives another, as for IEC meters
    /// after a baud switch). Stops at once when the client talks over the answer.
    func transmit(_ bytes: [UInt8], startingAt start: MonotonicInstant, on pty: PseudoTerminal,
                  assembler: inout FrameAssembler, characterNanoseconds: Int64? = nil, beforeLastByte: () -> Void) -> LineWait {
        let character = characterNanoseconds ?? configuration.line.characterNanoseconds
        var sent = 0
        while sent < bytes.count {
            let next = start.adding(nanoseconds: Int64(sent + 1) * character)
            let outcome = waitWatching(until: next, on: pty, assembler: &assembler)
            guard outcome == .reached else { return outcome }
            // Every byte whose last bit is due by now goes out (late wake-ups catch up, never drift).
            let due = max(sent + 1, min(bytes.count, Int((MonotonicInstant.now().nanoseconds - start.nanoseconds) / character)))
            if due == bytes.count { beforeLastByte() }
            pty.write(bytes[sent..<due])
            sent = due
        }
        return .reached
    }

    /// Sleeps until `deadline` while listening to the line and the wake pipe. Long waits poll;
    /// the last 2 ms use an absolute clock_nanosleep for precision.
    private func waitWatching(until deadline: MonotonicInstant, on pty: PseudoTerminal,
                              assembler: inout FrameAssembler) -> LineWait {
        while true {
            let remaining = deadline.nanoseconds - MonotonicInstant.now().nanoseconds
            let sleepPrecisely = remaining <= 2_000_000
            if sleepPrecisely && remaining > 0 { deadline.sleepUntil() }
            let timeout = sleepPrecisely ? 0 : Int32((remaining - 1_000_000) / 1_000_000)
            var fds = [pollfd(fd: pty.masterFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, timeout) > 0 {
                if fds[0].revents & Int16(POLLIN) != 0 {
                    assembler.receive(pty.readAvailable(), at: .now())
                    assembler.poison()
                    return .collision
                }
                if fds[1].revents != 0 {
                    wake.drain()
                    if lock.withLock({ stopRequested || vanishUntil != nil }) { return .interrupted }
                }
            }
            if sleepPrecisely { return .reached }
        }
    }
}

extension SimulatedBus {
    /// Whether `request` reads a register the `holes` fault makes unreadable.
    static func touchesHole(_ request: ModbusRequest, _ fault: MeterFault) -> Bool {
        switch request.pdu {
        case .readHoldingRegisters(let start, let count), .readInputRegisters(let start, let count):
            return fault.refusesRead(start: start, count: count)
        default:
            return false
        }
    }
}

extension MeterFault {
    var isSlow: Bool {
        if case .slow = self { return true }
        return false
    }

    var isHoles: Bool {
        if case .holes = self { return true }
        return false
    }
}
