import ConcentratorCore
import MeterProtocols

/// Secrets and link limits for the simulated DLMS meters of one line.
public struct DLMSSimulatorOptions: Hashable, Sendable {
    /// Per meter address; meters not listed use `defaultSecrets`.
    public var secrets: [UInt8: DLMSMeterSecrets] = [:]
    /// Password and keys of every other DLMS meter (its system title is `DLMSMeterSecrets.defaultSystemTitle`).
    public var defaultPassword: [UInt8]?
    public var defaultKeys: DLMSSecurityKeys?
    public var limits = DLMSMeterLimits()

    public init() {}

    /// The secrets of the meter at `address`.
    public func secrets(for address: UInt8) -> DLMSMeterSecrets {
        secrets[address] ?? DLMSMeterSecrets(password: defaultPassword, keys: defaultKeys,
                                             systemTitle: DLMSMeterSecrets.defaultSystemTitle(address: UInt16(address)))
    }
}

extension MeterFault {
    /// The fault as a Modbus meter applies it (DLMS-only faults do nothing there).
    var forModbus: MeterFault { self == .dropAssociation ? .none : self }
}

extension DLMSMeterServer {
    /// A simulated DLMS meter at physical address `setup.address` (logical device and address size
    /// from the profile), its values from the same model as a Modbus meter with that seed.
    init(setup: SimulatedMeterSetup, options: DLMSSimulatorOptions, seed: UInt64) throws(SimulatorError) {
        guard let section = setup.profile.dlms else {
            throw .invalidSetup("profile \(setup.profile.id) (address \(setup.address)) has no dlms section")
        }
        let address = HDLCAddress.server(logical: section.logicalDevice, physical: UInt16(setup.address), size: section.serverAddressSize ?? 2)
        let meter = SimulatedMeter(setup: setup, seed: seed)
        self.init(address: address, secrets: options.secrets(for: setup.address), limits: options.limits,
                  objects: DLMSMeterObjects(meter: meter, section: section), seed: seed ^ UInt64(setup.address))
    }

    var turnaroundMilliseconds: Int { objects.meter.turnaroundMilliseconds }
}

extension SimulatedBus {
    /// Serves one HDLC frame: the DLMS meter whose physical address the frame names answers after
    /// its turnaround, paced like every answer on the line.
    func serveHDLC(_ frame: ReceivedFrame, on pty: PseudoTerminal, assembler: inout FrameAssembler) {
        var reader = ByteReader(frame.bytes, from: 3)
        guard let destination = try? HDLCAddress.read(&reader, "destination"), let physical = destination.lower,
              physical <= UInt16(UInt8.max) else { return }
        let slave = UInt8(physical)
        let now = configuration.clock.now()
        let planned: (bytes: [UInt8]?, record: ServedRecord?, turnaround: Int)? = lock.withLock {
            guard var meter = dlmsMeters[slave] else { return nil }
            let fault = faults.fault(for: slave)
            let answer = meter.handle(frame.bytes, at: now, fault: fault)
            dlmsMeters[slave] = meter
            if answer.bytes != nil { answered += 1 }
            var turnaround = meter.turnaroundMilliseconds
            if case .slow(let ms) = fault { turnaround += ms }
            return (answer.bytes, answer.record, turnaround)
        }
        guard let planned else { return }
        guard let bytes = planned.bytes else {
            if let record = planned.record { servedLog?.append(record) }
            return
        }
        let start = frame.end.adding(nanoseconds: Int64(planned.turnaround) * 1_000_000)
        let outcome = transmit(bytes, startingAt: start, on: pty, assembler: &assembler) { [servedLog] in
            if let record = planned.record { servedLog?.append(record) }
        }
        if outcome != .reached, var cut = planned.record {
            cut.values = nil
            cut.fault = outcome == .collision ? "collision" : "port-closed"
            servedLog?.append(cut)
        }
    }

    /// Every invocation counter the DLMS meter at `address` received from clients, in order
    /// (replays included), or nil when there is no DLMS meter there.
    public func dlmsInvocationCounters(address: UInt8) -> [UInt32]? {
        lock.withLock { dlmsMeters[address]?.seenInvocationCounters }
    }

    /// Whether the DLMS meter at `address` has its supply connected (its disconnect control's output_state).
    public func dlmsOutputState(address: UInt8) -> Bool? {
        lock.withLock { dlmsMeters[address]?.objects.meter.supply.isConnected }
    }
}

extension DLMSSimulatorOptions {
    /// Reads the DLMS secrets file of `meter-sim --dlms-secrets FILE`: lines `password=TEXT`,
    /// `encryption-key=32 hex digits`, `authentication-key=32 hex digits`; `#` starts a comment.
    /// The secrets apply to every DLMS meter of the line. Errors name the line, never the secret.
    public mutating func applySecretsFile(_ text: String) throws(SimulatorArgumentError) {
        var ek: DLMSKey?, ak: DLMSKey?
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = Self.trimmed(raw)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else {
                throw .invalid(what: "DLMS secrets line", value: "\(n + 1)", expected: "KEY=VALUE (password, encryption-key, authentication-key)")
            }
            let key = String(line[..<eq]), value = String(line[line.index(after: eq)...])
            switch key {
            case "password":
                defaultPassword = Array(value.utf8)
            case "encryption-key", "authentication-key":
                guard let bytes = Hex.decode(value), let k = DLMSKey(bytes) else {
                    throw .invalid(what: "DLMS \(key) on line", value: "\(n + 1)", expected: "32 hex digits (a 128-bit key)")
                }
                if key == "encryption-key" { ek = k } else { ak = k }
            default:
                throw .invalid(what: "DLMS secrets key on line \(n + 1)", value: key, expected: "password, encryption-key or authentication-key")
            }
        }
        if (ek == nil) != (ak == nil) {
            throw .invalid(what: "DLMS keys", value: "one of two", expected: "both encryption-key and authentication-key")
        }
        if let ek, let ak { defaultKeys = DLMSSecurityKeys(encryption: ek, authentication: ak) }
    }

    private static func trimmed(_ s: Substring) -> String {
        var s = s
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}

/// The control channel's `coil` and `clock` commands on DLMS meters (their disconnect control and clock).
extension SimulatedBus {
    /// output_state of the DLMS meter at `slave` (call with the lock held); nil without a disconnect control.
    func dlmsRelayConnected(_ slave: UInt8) -> Bool? {
        guard let m = dlmsMeters[slave], m.objects.section.disconnectControl != nil else { return nil }
        return m.objects.meter.supply.isConnected
    }

    /// Switches the DLMS meter's supply (call with the lock held).
    func dlmsSetRelay(_ slave: UInt8, connected: Bool, at now: Timestamp) throws(SimulatorError) {
        guard var m = dlmsMeters[slave] else { throw .noMeter(address: slave) }
        guard m.objects.section.disconnectControl != nil else { throw .invalidSetup("the meter at address \(slave) has no disconnect control") }
        m.objects.meter.setRelay(connected: connected, at: now)
        dlmsMeters[slave] = m
    }

    /// Sets the DLMS meter's clock (call with the lock held).
    func dlmsSetClock(_ slave: UInt8, to meterTime: Timestamp, at now: Timestamp) throws(SimulatorError) {
        guard var m = dlmsMeters[slave] else { throw .noMeter(address: slave) }
        guard m.objects.section.clock != nil else { throw .invalidSetup("the meter at address \(slave) has no clock") }
        m.objects.meter.setClock(meterTime, at: now)
        dlmsMeters[slave] = m
    }

    /// How far the DLMS meter's clock at `slave` is ahead of the simulator's time, or nil when there is none.
    public func dlmsClockOffsetMilliseconds(slave: UInt8) -> Int64? {
        lock.withLock { dlmsMeters[slave].flatMap { $0.objects.section.clock == nil ? nil : $0.objects.meter.clockOffsetMilliseconds } }
    }
}
