import ConcentratorCore
import MeterProtocols
import Platform

/// Polls one Modbus meter through the bus line: one request per planned block, each with the
/// meter's learned response timeout. A transport failure (timeout, bad CRC, garbage, port error)
/// ends the poll at once, so a dead or noisy meter costs at most one failed transaction per pass.
/// A Modbus exception marks that block's quantities and the poll goes on (the meter is alive).
/// Exception 2 (illegal data address) over a block of several values splits it in halves, read at
/// once (bisection), down to single values: one register the meter does not have costs only its own
/// value (a per-value error), and the working plan is returned for the meter's next polls.
enum ModbusMeterReader {
    /// With `status`, the profile's status register is read after the values (edge monitoring's flags).
    static func poll(slave: UInt8, blocks plan: [ModbusReadBlock], timer: inout ResponseTimer, line: BusLine,
                     status: ModbusStatusSpec? = nil) -> MeterPoll {
        let started = ContinuousClock.now
        var poll = MeterPoll(values: [])
        // Set after the reads (a `defer` would change the local after the result was copied out).
        let refined = read(plan, into: &poll, slave: slave, timer: &timer, line: line)
        poll.refinedPlan = refined
        if let status, !plan.isEmpty, poll.answered {
            poll.status = readStatus(slave: slave, spec: status, timer: timer, line: line, poll: &poll)
        }
        poll.elapsed = ContinuousClock.now - started
        return poll
    }

    /// Reads the blocks into `poll`; returns the working plan when a block had to be split.
    private static func read(_ plan: [ModbusReadBlock], into poll: inout MeterPoll, slave: UInt8, timer: inout ResponseTimer,
                             line: BusLine) -> [ModbusReadBlock]? {
        let lineSettings = line.settings.line
        let requestWire = lineSettings.wireMicroseconds(characters: 8) / 1000
        let silence = line.interFrameSilence.inMilliseconds
        var blocks = plan[...]
        var used: [ModbusReadBlock] = []
        var split = false
        while let block = blocks.popFirst() {
            if line.ensureOpen() != nil {
                failRemaining(&poll, [block] + blocks, with: .portUnavailable)
                used.append(block)
                return split ? used + blocks : nil
            }
            guard let master = line.modbusMaster() else {
                failRemaining(&poll, [block] + blocks, with: .portUnavailable)
                used.append(block)
                return split ? used + blocks : nil
            }
            let responseWire = lineSettings.wireMicroseconds(characters: 5 + 2 * block.count) / 1000
            let timeout = timer.responseTimeoutMilliseconds(requestWireMilliseconds: requestWire)
            // A gap inside an answer: USB-RS485 adapters deliver in chunks (an FTDI's latency timer is
            // 16 ms by default), and a busy host wakes late. 50 ms tolerates both; libmodbus's default is 500.
            let byteTimeout = max(50, 5 * lineSettings.characterMicroseconds / 1000)
            line.waitForSilence()
            let t0 = ContinuousClock.now
            let result = master.readRegisters(slave: slave, function: block.function, start: block.start, count: block.count,
                                              timeout: .microseconds(Int64(timeout * 1000)),
                                              byteTimeout: .microseconds(Int64(byteTimeout * 1000)))
            let took = (ContinuousClock.now - t0).inMilliseconds
            line.markFrameEnd()
            poll.transactions += 1
            poll.wireMilliseconds += requestWire + silence
            switch result {
            case .failure(.exception(2)) where block.registers.count > 1:
                // A merged read over a register the meter does not have: read the halves instead.
                poll.wireMilliseconds += lineSettings.wireMicroseconds(characters: 5) / 1000
                let (a, b) = halves(block)
                blocks = [a, b] + blocks
                split = true
            case .success(let words):
                used.append(block)
                poll.wireMilliseconds += responseWire
                timer.observe(turnaroundMilliseconds: took - requestWire - responseWire)
                let decoded = block.decode(words)
                poll.values += decoded
                if poll.valueError == nil, decoded.contains(where: { $0.error != nil }) { poll.valueError = .undecodableValue }
            case .failure(.exception(let code)):
                used.append(block)
                poll.wireMilliseconds += lineSettings.wireMicroseconds(characters: 5) / 1000
                poll.values += block.registers.map { QuantityValue(quantity: $0.quantity, error: .modbusException(code)) }
                poll.valueError = .modbusException(code)
            case .failure(let failure):
                line.flushInput()
                if failure.portFailed { line.portFailed(failure.description) }
                poll.transportFailure = failure.meterError
                failRemaining(&poll, [block] + blocks, with: failure.meterError)
                used.append(block)
                return split ? used + blocks : nil
            }
        }
        return split ? used : nil
    }

    /// One more transaction after the values: the profile's status register (the named flags of alarm
    /// rules). It never fails the poll: an exception or a lost answer leaves the flags unknown (the
    /// rules keep their phase) and the values stand.
    private static func readStatus(slave: UInt8, spec: ModbusStatusSpec, timer: ResponseTimer, line: BusLine,
                                   poll: inout MeterPoll) -> UInt64? {
        guard line.ensureOpen() == nil, let master = line.modbusMaster() else { return nil }
        let settings = line.settings.line
        let requestWire = settings.wireMicroseconds(characters: 8) / 1000
        let count = spec.type.registerCount
        line.waitForSilence()
        let result = master.readRegisters(slave: slave, function: spec.function, start: spec.address, count: count,
                                          timeout: .microseconds(Int64(timer.responseTimeoutMilliseconds(requestWireMilliseconds: requestWire) * 1000)),
                                          byteTimeout: .microseconds(Int64(max(50, 5 * settings.characterMicroseconds / 1000) * 1000)))
        line.markFrameEnd()
        poll.transactions += 1
        poll.wireMilliseconds += requestWire + settings.wireMicroseconds(characters: 5 + 2 * count) / 1000
        guard case .success(let words) = result, words.count == count else {
            if case .failure(let failure) = result {
                if case .exception = failure {} else { line.flushInput() }
                if failure.portFailed { line.portFailed(failure.description) }
            }
            return nil
        }
        return words.reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
    }

    /// `block` as two blocks of about half its values each (a value is never split).
    static func halves(_ block: ModbusReadBlock) -> (ModbusReadBlock, ModbusReadBlock) {
        let middle = block.registers.count / 2
        func part(_ specs: ArraySlice<ModbusRegisterSpec>) -> ModbusReadBlock {
            let start = Int(specs.first!.address), end = specs.map(\.lastAddress).max()!
            return ModbusReadBlock(function: block.function, start: UInt16(start), count: end - start + 1, registers: Array(specs),
                                   notAvailableMarker: block.notAvailableMarker)
        }
        return (part(block.registers[..<middle]), part(block.registers[middle...]))
    }

    private static func failRemaining(_ poll: inout MeterPoll, _ blocks: [ModbusReadBlock], with error: MeterErrorCode) {
        if poll.transportFailure == nil { poll.transportFailure = error }
        for block in blocks {
            poll.values += block.registers.map { QuantityValue(quantity: $0.quantity, error: error) }
        }
    }
}
