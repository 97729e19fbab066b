import ConcentratorCore
import MeterProtocols
import Platform

/// Scans a range of Modbus addresses, one address per step (urgent reads still jump in between).
/// An address is probed with the identification registers of the candidate profiles: silence means
/// nobody is there (one timeout); any answer, even an exception, means a meter is there, and the
/// profile whose identification matches best is reported.
final class ScanTask: BusTask {
    let priority = BusTaskPriority.scan
    private let addresses: [UInt8]
    private var position = 0
    private let probes: [ModbusIdentification]
    private let profiles: [MeterProfile]
    private let timeout: Duration
    private let progress: @Sendable (ScanProgress) -> Void
    private let cancellation: ActionCancellation
    private var hits: [ScanHit] = []
    let pending = PendingResult<[ScanHit]>()

    init(addresses: ClosedRange<UInt8>, profiles: [MeterProfile], timeout: Duration, cancellation: ActionCancellation,
         progress: @escaping @Sendable (ScanProgress) -> Void) {
        self.addresses = Array(addresses)
        self.profiles = profiles.filter { $0.modbus?.identification != nil }
        var unique: [ModbusIdentification] = []
        for p in self.profiles {
            guard let id = p.modbus?.identification else { continue }
            if !unique.contains(where: { Self.sameRegister($0, id) }) { unique.append(id) }
        }
        // Without identification registers, fall back to holding register 0 as a presence probe.
        probes = unique.isEmpty ? [ModbusIdentification(function: .readHoldingRegisters, address: 0, type: .u16)] : unique
        self.timeout = timeout
        self.cancellation = cancellation
        self.progress = progress
    }

    static func sameRegister(_ a: ModbusIdentification, _ b: ModbusIdentification) -> Bool {
        a.function == b.function && a.address == b.address && a.type == b.type && a.byteOrder == b.byteOrder
            && a.wordOrder == b.wordOrder
    }

    func step(_ bus: BusOwner) -> Bool {
        if position == 0, !pending.markStarted() { return true }
        if cancellation.isCancelled {
            pending.finish(.failure(.cancelled))
            return true
        }
        guard position < addresses.count else {
            pending.finish(.success(hits))
            return true
        }
        let address = addresses[position]
        position += 1
        if let hit = probe(address, bus) { hits.append(hit) }
        progress(ScanProgress(address: address, done: position, total: addresses.count, found: hits.count))
        if position == addresses.count {
            pending.finish(.success(hits))
            return true
        }
        return false
    }

    func abandon(_ error: BusError) { pending.finish(.failure(error)) }

    private func probe(_ address: UInt8, _ bus: BusOwner) -> ScanHit? {
        var answers: [(ModbusIdentification, Double?)] = []
        var present = false
        for probe in probes {
            guard bus.line.ensureOpen() == nil, let master = bus.line.modbusMaster() else { return nil }
            bus.line.waitForSilence()
            let result = master.readRegisters(slave: address, function: probe.function, start: probe.address,
                                              count: probe.type.registerCount, timeout: timeout, byteTimeout: .milliseconds(50))
            bus.line.markFrameEnd()
            switch result {
            case .success(let words):
                present = true
                let raw = try? ModbusValueCodec.decode(words, type: probe.type, byteOrder: probe.byteOrder, wordOrder: probe.wordOrder)
                answers.append((probe, raw))
            case .failure(.exception):
                present = true
                answers.append((probe, nil))
            case .failure(let e):
                bus.line.flushInput()
                if e.portFailed { bus.line.portFailed(e.description) }
                // Silence on the first probe: nobody at this address.
                if !present { return nil }
            }
        }
        guard present else { return nil }
        return ScanHit(address: address, profile: bestProfile(answers), detail: describe(answers))
    }

    private func bestProfile(_ answers: [(ModbusIdentification, Double?)]) -> String? {
        var rangeMatch: String?
        for profile in profiles {
            guard let id = profile.modbus?.identification,
                  let answer = answers.first(where: { Self.sameRegister($0.0, id) }), let value = answer.1 else { continue }
            if !id.expectedValues.isEmpty {
                if id.expectedValues.contains(value) { return profile.id }
            } else if let range = id.plausibleRange, range.contains(value), rangeMatch == nil {
                rangeMatch = profile.id
            }
        }
        return rangeMatch
    }

    private func describe(_ answers: [(ModbusIdentification, Double?)]) -> String {
        answers.map { probe, value in
            let reg = "fc\(probe.function.rawValue)@\(probe.address)"
            return value.map { "\(reg)=\($0)" } ?? "\(reg)=exception"
        }.joined(separator: " ")
    }
}

extension BusOwner {
    /// Scans `addresses` for Modbus meters and names the best-fitting profile for each. Blocking;
    /// `progress` is called on the bus thread after each address.
    public func scan(addresses: ClosedRange<UInt8>, profiles: [MeterProfile], timeout: Duration = .milliseconds(250),
                     cancellation: ActionCancellation = ActionCancellation(),
                     progress: @escaping @Sendable (ScanProgress) -> Void = { _ in }) -> Result<[ScanHit], BusError> {
        let task = ScanTask(addresses: addresses, profiles: profiles, timeout: timeout, cancellation: cancellation, progress: progress)
        enqueue(task)
        return task.pending.wait(startDeadline: .seconds(3600), bus: name)
    }
}
