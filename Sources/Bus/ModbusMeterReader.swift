import ConcentratorCore
import MeterProtocols
import Platform

/// Polls one Modbus meter through the bus line: one request per planned block, each with the
/// meter's learned response timeout. A transport failure (timeout, bad CRC, garbage, port error)
/// ends the poll at once, so a dead or noisy meter costs at most one failed transaction per pass.
/// A Modbus exception marks that block's quantities and the poll goes on (the meter is alive).
enum ModbusMeterReader {
    static func poll(slave: UInt8, blocks: [ModbusReadBlock], timer: inout ResponseTimer, line: BusLine,
                     status: ModbusStatusSpec? = nil) -> MeterPoll {
        let started = ContinuousClock.now
        var poll = MeterPoll(values: [])
        defer { poll.elapsed = ContinuousClock.now - started }
        let lineSettings = line.settings.line
        let requestWire = lineSettings.wireMicroseconds(characters: 8) / 1000
        let silence = line.interFrameSilence.inMilliseconds
        for (index, block) in blocks.enumerated() {
            if line.ensureOpen() != nil {
                failRemaining(&poll, blocks[index...], with: .portUnavailable)
                return poll
            }
            guard let master = line.modbusMaster() else {
                failRemaining(&poll, blocks[index...], with: .portUnavailable)
                return poll
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
            case .success(let words):
                poll.wireMilliseconds += responseWire
                timer.observe(turnaroundMilliseconds: took - requestWire - responseWire)
                let decoded = block.decode(words)
                poll.values += decoded
                if poll.valueError == nil, decoded.contains(where: { $0.error != nil }) { poll.valueError = .undecodableValue }
            case .failure(.exception(let code)):
                poll.wireMilliseconds += lineSettings.wireMicroseconds(characters: 5) / 1000
                poll.values += block.registers.map { QuantityValue(quantity: $0.quantity, error: .modbusException(code)) }
                poll.valueError = .modbusException(code)
            case .failure(let failure):
                line.flushInput()
                if failure.portFailed { line.portFailed(failure.description) }
                poll.transportFailure = failure.meterError
                failRemaining(&poll, blocks[index...], with: failure.meterError)
                return poll
            }
        }
        if let status, !blocks.isEmpty { poll.status = readStatus(slave: slave, spec: status, timer: timer, line: line, poll: &poll) }
        return poll
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

    private static func failRemaining(_ poll: inout MeterPoll, _ blocks: ArraySlice<ModbusReadBlock>, with error: MeterErrorCode) {
        if poll.transportFailure == nil { poll.transportFailure = error }
        for block in blocks {
            poll.values += block.registers.map { QuantityValue(quantity: $0.quantity, error: error) }
        }
    }
}
