import ConcentratorCore
import MeterProtocols
import Platform

/// Scans a list of Modbus addresses, one address per step (urgent reads still jump in between).
/// An address is probed with the identification registers of the candidate profiles: silence means
/// nobody is there (one timeout); any answer, even an exception, means a meter is there, and the
/// profile whose identification matches best is reported. An answer that never arrives intact (bad
/// CRC, garbage) means something is there but garbled: it is reported as such, never left out. A
/// port that cannot be opened fails the scan (it never reports "nothing answered" from a dead port).
/// With `line`, the probes use those line settings instead of the bus's (for this scan's steps only).
final class ScanTask: BusTask {
    let priority = BusTaskPriority.scan
    private let addresses: [UInt8]
    private var position = 0
    private let probes: [ModbusIdentification]
    private let profiles: [MeterProfile]
    private let timeout: Duration
    private let line: LineSettings?
    private let progress: @Sendable (ScanProgress) -> Void
    private let cancellation: ActionCancellation
    private var hits: [ScanHit] = []
    let pending = PendingResult<[ScanHit]>()

    init(addresses: [UInt8], profiles: [MeterProfile], timeout: Duration, line: LineSettings? = nil, cancellation: ActionCancellation,
         progress: @escaping @Sendable (ScanProgress) -> Void) {
        self.addresses = addresses
        self.profiles = profiles.filter { $0.modbus?.identification != nil }
        var unique: [ModbusIdentification] = []
        for p in self.profiles {
            guard let id = p.modbus?.identification else { continue }
            if !unique.contains(where: { Self.sameRegister($0, id) }) { unique.append(id) }
        }
        // Without identification registers, fall back to holding register 0 as a presence probe.
        probes = unique.isEmpty ? [ModbusIdentification(function: .readHoldingRegisters, address: 0, type: .u16)] : unique
        self.timeout = timeout
        self.line = line
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
        bus.line.lineOverride = line
        defer { bus.line.lineOverride = nil }
        if let error = bus.line.ensureOpen(retryNow: position == 0) {
            pending.finish(.failure(.portUnavailable(bus.name, error.description)))
            return true
        }
        let address = addresses[position]
        position += 1
        switch probe(address, bus) {
        case .success(let hit?): hits.append(hit)
        case .success(nil): break
        case .failure(let error):
            pending.finish(.failure(error))
            return true
        }
        progress(ScanProgress(address: address, done: position, total: addresses.count, found: hits.count))
        if position == addresses.count {
            pending.finish(.success(hits))
            return true
        }
        return false
    }

    func abandon(_ error: BusError) { pending.finish(.failure(error)) }

    /// What one address answered to each probe.
    private enum Answer {
        case value(Double?)
        case exception(UInt8)
        case garbled(MeterErrorCode)
    }

    private func probe(_ address: UInt8, _ bus: BusOwner) -> Result<ScanHit?, BusError> {
        var answers: [(ModbusIdentification, Answer)] = []
        for probe in probes {
            guard let master = bus.line.modbusMaster() else {
                return .failure(.portUnavailable(bus.name, bus.line.openError?.description ?? "the line settings were refused"))
            }
            bus.line.waitForSilence()
            let result = master.readRegisters(slave: address, function: probe.function, start: probe.address,
                                              count: probe.type.registerCount, timeout: timeout, byteTimeout: .milliseconds(50))
            bus.line.markFrameEnd()
            switch result {
            case .success(let words):
                let raw = try? ModbusValueCodec.decode(words, type: probe.type, byteOrder: probe.byteOrder, wordOrder: probe.wordOrder)
                answers.append((probe, .value(raw)))
            case .failure(.exception(let code)):
                answers.append((probe, .exception(code)))
            case .failure(let e) where e.portFailed:
                bus.line.portFailed(e.description)
                return .failure(.portUnavailable(bus.name, e.description))
            case .failure(.timeout):
                bus.line.flushInput()
                // Silence on the first probe: nobody at this address.
                if answers.isEmpty { return .success(nil) }
            case .failure(let e):
                bus.line.flushInput()
                answers.append((probe, .garbled(e.meterError)))
            }
        }
        guard !answers.isEmpty else { return .success(nil) }
        let intact = answers.filter { if case .garbled = $0.1 { return false } else { return true } }
        if intact.isEmpty {
            let errors = Set(answers.compactMap { if case .garbled(let e) = $0.1 { return e.description } else { return nil } })
            return .success(ScanHit(address: address, profile: nil, detail: describe(answers),
                                    verdict: "garbled: \(errors.sorted().joined(separator: ", "))", garbled: true))
        }
        let profile = bestProfile(intact)
        return .success(ScanHit(address: address, profile: profile?.id, detail: describe(answers),
                                verdict: verdict(profile: profile, answers: intact)))
    }

    private func bestProfile(_ answers: [(ModbusIdentification, Answer)]) -> MeterProfile? {
        var rangeMatch: MeterProfile?
        for profile in profiles {
            guard let id = profile.modbus?.identification, let answer = answers.first(where: { Self.sameRegister($0.0, id) }),
                  case .value(let raw?) = answer.1 else { continue }
            if !id.expectedValues.isEmpty {
                if id.expectedValues.contains(raw) { return profile }
            } else if let range = id.plausibleRange, range.contains(raw), rangeMatch == nil {
                rangeMatch = profile
            }
        }
        return rangeMatch
    }

    /// The answer in words: the model with its identification code, or why none fits.
    private func verdict(profile: MeterProfile?, answers: [(ModbusIdentification, Answer)]) -> String {
        if let profile { return Self.modelName(profile.name) }
        let codes = answers.compactMap { answer -> String? in
            if case .value(let v?) = answer.1 { return Self.number(v) }
            return nil
        }
        let exception = answers.lazy.compactMap { answer -> UInt8? in
            if case .exception(let c) = answer.1 { return c }
            return nil
        }.first
        if codes.isEmpty, let exception { return "unknown model: exception \(exception) to every probe" }
        return "unknown model" + (codes.isEmpty ? "" : " (code \(codes.prefix(2).joined(separator: ", ")))")
    }

    private func describe(_ answers: [(ModbusIdentification, Answer)]) -> String {
        answers.map { probe, answer in
            let reg = "fc\(probe.function.rawValue)@\(probe.address)"
            switch answer {
            case .value(let v?): return "\(reg)=\(v)"
            case .value(nil): return "\(reg)=undecodable"
            case .exception: return "\(reg)=exception"
            case .garbled(let e): return "\(reg)=\(e)"
            }
        }.joined(separator: " ")
    }

    /// A profile's name without its parenthesised details, at most 26 columns (whole words):
    /// "Eastron SDM630-Modbus V2 (three-phase, MID)" is "Eastron SDM630-Modbus V2".
    static func modelName(_ name: String) -> String {
        let head = name.firstRange(of: " (").map { String(name[..<$0.lowerBound]) } ?? name
        guard head.count > 26 else { return head }
        var out = ""
        for word in head.split(separator: " ") {
            guard out.count + word.count + (out.isEmpty ? 0 : 1) <= 26 else { break }
            out += (out.isEmpty ? "" : " ") + word
        }
        return out.isEmpty ? String(head.prefix(26)) : out
    }

    private static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}

extension BusOwner {
    /// Scans `addresses` for Modbus meters and names the best-fitting profile for each. Blocking;
    /// `progress` is called on the bus thread after each address.
    public func scan(addresses: ClosedRange<UInt8>, profiles: [MeterProfile], timeout: Duration = .milliseconds(250),
                     cancellation: ActionCancellation = ActionCancellation(),
                     progress: @escaping @Sendable (ScanProgress) -> Void = { _ in }) -> Result<[ScanHit], BusError> {
        scan(addresses: Array(addresses), profiles: profiles, timeout: timeout, cancellation: cancellation, progress: progress)
    }

    /// Scans a list of addresses (in the given order; duplicates are probed once), optionally with
    /// other line settings than the bus's (`line`, for this scan only). Blocking.
    public func scan(addresses: [UInt8], profiles: [MeterProfile], timeout: Duration = .milliseconds(250), line: LineSettings? = nil,
                     cancellation: ActionCancellation = ActionCancellation(),
                     progress: @escaping @Sendable (ScanProgress) -> Void = { _ in }) -> Result<[ScanHit], BusError> {
        var seen = Set<UInt8>()
        let unique = addresses.filter { seen.insert($0).inserted }
        let task = ScanTask(addresses: unique, profiles: profiles, timeout: timeout, line: line, cancellation: cancellation,
                            progress: progress)
        enqueue(task)
        return task.pending.wait(startDeadline: .seconds(3600), bus: name)
    }
}
