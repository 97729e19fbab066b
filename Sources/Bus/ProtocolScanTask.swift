import ConcentratorCore
import MeterProtocols
import Platform

/// Opens the HDLC link of a DLMS server and closes it again (SNRM/UA, DISC): proof that a meter
/// answers at an address, with the sizes it negotiates; no association.
struct HDLCLinkProbe: DLMSConversation {
    typealias Outcome = HDLCParameters
    private var negotiated: HDLCParameters?

    mutating func begin(_ a: inout DLMSAssociation) -> DLMSStep<HDLCParameters> { .connectLink }

    mutating func link(_ event: DLMSLinkEvent, _ a: inout DLMSAssociation) -> DLMSStep<HDLCParameters> {
        switch event {
        case .connected:
            negotiated = a.negotiated
            return .disconnectLink
        case .disconnected:
            return .finish(negotiated ?? a.negotiated)
        }
    }

    mutating func answer(_ apdu: [UInt8], _ a: inout DLMSAssociation) -> DLMSStep<HDLCParameters> {
        .fail(MeterSessionError(.malformed, "an APDU where none was asked for"))
    }
}

/// Scans IEC 62056-21 device addresses (an addressed sign-on and data readout each) or DLMS HDLC
/// server addresses (SNRM/UA, then DISC), one address per step, so urgent work still jumps in
/// between. Silence means nobody is there; an answer that never arrives intact (a wrong BCC or
/// FCS, noise) is reported as garbled, never left out. A port that cannot be opened fails the scan.
final class ProtocolScanTask: BusTask {
    /// What to probe.
    enum Target: Hashable {
        case iec(String)
        case hdlc(UInt16)

        var text: String {
            switch self {
            case .iec(let a): return a
            case .hdlc(let a): return String(a)
            }
        }
    }

    let priority = BusTaskPriority.scan
    private let targets: [Target]
    private var position = 0
    private let profiles: [MeterProfile]
    private let timeout: Duration?
    private let progress: @Sendable (ScanProgress) -> Void
    private let cancellation: ActionCancellation
    private var hits: [ScanHit] = []
    let pending = PendingResult<[ScanHit]>()

    init(targets: [Target], profiles: [MeterProfile], timeout: Duration?, cancellation: ActionCancellation,
         progress: @escaping @Sendable (ScanProgress) -> Void) {
        self.targets = targets
        self.profiles = profiles
        self.timeout = timeout
        self.cancellation = cancellation
        self.progress = progress
    }

    func step(_ bus: BusOwner) -> Bool {
        if position == 0, !pending.markStarted() { return true }
        if cancellation.isCancelled {
            pending.finish(.failure(.cancelled))
            return true
        }
        guard position < targets.count else {
            pending.finish(.success(hits))
            return true
        }
        if let error = bus.line.ensureOpen(retryNow: position == 0) {
            pending.finish(.failure(.portUnavailable(bus.name, error.description)))
            return true
        }
        let target = targets[position]
        position += 1
        let outcome: Result<ScanHit?, BusError>
        switch target {
        case .iec(let address): outcome = probeIEC(address, bus)
        case .hdlc(let address): outcome = probeHDLC(address, bus)
        }
        switch outcome {
        case .success(let hit?): hits.append(hit)
        case .success(nil): break
        case .failure(let error):
            pending.finish(.failure(error))
            return true
        }
        progress(ScanProgress(address: 0, done: position, total: targets.count, found: hits.count, deviceAddress: target.text))
        if position == targets.count {
            pending.finish(.success(hits))
            return true
        }
        return false
    }

    func abandon(_ error: BusError) { pending.finish(.failure(error)) }

    private func probeIEC(_ address: String, _ bus: BusOwner) -> Result<ScanHit?, BusError> {
        let iecProfiles = profiles.filter { $0.iec != nil }
        // The sign-on rate and modes of the first installed model suit most; 300 baud mode C otherwise.
        var options = IECLinkOptions(deviceAddress: address, acceptedModes: [.c, .b, .a], maximumBaud: 19_200)
        if let first = iecProfiles.first?.iec { options.signOnLine.baud = first.signOnBaud }
        var session = IECReadoutSession(link: options)
        let runner = MeterSessionRunner(line: bus.line, reactionLimit: timeout)
        let run = runner.run(&session)
        if let failure = run.portFailure { return .failure(.portUnavailable(bus.name, failure)) }
        switch run.result {
        case .success(let readout):
            let id = readout.identification
            let profile = iecProfiles.first { p in p.iec?.identification.map { IECValueMapping.matches(id, $0) } ?? false }
            let detail = "/\(id.manufacturer)\(Character(Unicode.Scalar(id.baudCharacter)))\(id.ident) mode \(readout.mode.rawValue) at \(readout.baud) baud, \(readout.data.sets.count) data lines"
            return .success(ScanHit(address: 0, profile: profile?.id, detail: detail,
                                    verdict: profile.map { ScanTask.modelName($0.name) } ?? "unknown model (\(id.manufacturer) \(id.ident))",
                                    protocolKind: .iec62056_21, deviceAddress: address))
        case .failure(let e) where e.kind == .timeout && e.detail.contains("no identification"):
            return .success(nil)
        case .failure(let e):
            return .success(ScanHit(address: 0, detail: e.description, verdict: "garbled: \(e.kind.rawValue)", garbled: e.kind != .refused,
                                    protocolKind: .iec62056_21, deviceAddress: address))
        }
    }

    private func probeHDLC(_ address: UInt16, _ bus: BusOwner) -> Result<ScanHit?, BusError> {
        let wait = AnswerWait(firstByteWithin: timeout ?? .milliseconds(500), interCharacterGap: .milliseconds(50))
        let settings = DLMSClientSettings(clientAddress: 16, serverAddress: .server(logical: 1, physical: address),
                                          line: LineSettings(baud: bus.settings.line.baud), wait: wait, retries: 0)
        var session = DLMSSession(HDLCLinkProbe(), association: DLMSAssociation(settings: settings))
        let runner = MeterSessionRunner(line: bus.line, waitExcludesRequest: true)
        let run = runner.run(&session)
        if let failure = run.portFailure { return .failure(.portUnavailable(bus.name, failure)) }
        switch run.result {
        case .success(let outcome):
            let p = outcome.value
            return .success(ScanHit(address: 0, detail: "HDLC server \(address): UA, max information field \(p.maxInfoReceive)/\(p.maxInfoTransmit), window \(p.windowReceive)",
                                    verdict: "DLMS/COSEM meter (HDLC)", protocolKind: .dlms, deviceAddress: String(address)))
        case .failure(let e) where e.kind == .timeout:
            return .success(nil)
        case .failure(let e) where e.kind == .refused:
            // DM to the SNRM: a DLMS server that will not open a link now (busy with another client).
            return .success(ScanHit(address: 0, detail: e.description, verdict: "DLMS/COSEM meter (refuses a link now)",
                                    protocolKind: .dlms, deviceAddress: String(address)))
        case .failure(let e):
            return .success(ScanHit(address: 0, detail: e.description, verdict: "garbled: \(e.kind.rawValue)", garbled: true,
                                    protocolKind: .dlms, deviceAddress: String(address)))
        }
    }
}

extension BusOwner {
    /// Scans IEC 62056-21 device addresses (an addressed sign-on and readout each) and names the
    /// installed IEC profile whose identification fits. Blocking; `progress` after each address.
    public func scanIEC(addresses: [String], profiles: [MeterProfile], reactionLimit: Duration? = nil,
                        cancellation: ActionCancellation = ActionCancellation(),
                        progress: @escaping @Sendable (ScanProgress) -> Void = { _ in }) -> Result<[ScanHit], BusError> {
        var seen = Set<String>()
        let targets = addresses.filter { seen.insert($0).inserted }.map { ProtocolScanTask.Target.iec($0) }
        return runScan(ProtocolScanTask(targets: targets, profiles: profiles, timeout: reactionLimit, cancellation: cancellation,
                                        progress: progress))
    }

    /// Scans DLMS HDLC server (physical) addresses with SNRM/UA and DISC. Blocking.
    public func scanHDLC(addresses: [UInt16], timeout: Duration = .milliseconds(500), cancellation: ActionCancellation = ActionCancellation(),
                         progress: @escaping @Sendable (ScanProgress) -> Void = { _ in }) -> Result<[ScanHit], BusError> {
        var seen = Set<UInt16>()
        let targets = addresses.filter { seen.insert($0).inserted }.map { ProtocolScanTask.Target.hdlc($0) }
        return runScan(ProtocolScanTask(targets: targets, profiles: [], timeout: timeout, cancellation: cancellation, progress: progress))
    }

    private func runScan(_ task: ProtocolScanTask) -> Result<[ScanHit], BusError> {
        enqueue(task)
        return task.pending.wait(startDeadline: .seconds(3600), bus: name)
    }
}
