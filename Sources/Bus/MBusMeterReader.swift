import ConcentratorCore
import MeterProtocols

/// How one wired M-Bus meter is reached: its primary or secondary address, the line it is read on
/// (the bus's own settings; EN 13757-2 default 2400 8E1), and the profile's record rules.
final class MBusMeterLink {
    let meter: MeterID
    let target: MBusTarget
    let map: MBusRecordMap
    /// The status byte last reported as an event (so a flag raises one event, not one per cycle).
    var reportedStatus: MBusStatus?

    init?(settings: MeterSettings, profile: MeterProfile) {
        guard settings.protocolKind == .mbus, let map = profile.mbus else { return nil }
        switch settings.address {
        case .mbusPrimary(let a): target = .primary(a)
        case .mbusSecondary(let s): target = .secondary(s)
        default: return nil
        }
        meter = settings.id
        self.map = map
    }

    /// The meter's OMS key when its key file holds one (`encryption`); wired meters without
    /// encryption need no key file. A key file that exists but cannot be read is a security problem.
    func key(_ services: BusMeterServices) -> Result<MeterKey?, MeterSessionError> {
        guard let source = services.secrets else { return .success(nil) }
        switch source.secrets(for: meter) {
        case .success(let secrets):
            guard let bytes = secrets.secret(id: nil, kind: "encryption") else { return .success(nil) }
            guard let key = MeterKey(bytes: bytes) else {
                return .failure(MeterSessionError(.security, "the encryption key of meter \(meter) is not 128 bits; import it again with the console (keys, meter)"))
            }
            return .success(key)
        case .failure(let problem):
            // No key file at all: a plain meter. Any other problem (mode, format) is reported.
            return problem.description.hasPrefix("no key file") ? .success(nil) : .failure(MeterSessionError(.security, problem.description))
        }
    }
}

/// Reads a wired M-Bus meter through the bus owner's port with the one session runner: SND_NKE,
/// the selection for a secondary address, REQ_UD2/RSP_UD (multi-telegram), decrypted with the
/// meter's OMS key where the telegram is encrypted; values by the profile's record rules. The
/// status byte's flags (power low, errors, alarm) become one alarm event per change.
enum MBusMeterReader {
    static func poll(_ meter: PolledMeter, link: MBusMeterLink, scope: MeterReadScope, bus: BusOwner) -> MeterPoll {
        let wanted = meter.quantities(scope)
        let quantities = link.map.quantities.filter { wanted?.contains($0) ?? true }
        let key: MeterKey?
        switch link.key(bus.services) {
        case .success(let k): key = k
        case .failure(let e): return MeterPoll(failed: .securityFailure, quantities: quantities, detail: e.description)
        }
        var session = MBusReadoutSession(target: link.target, options: MBusSessionOptions(line: bus.settings.line), key: key,
                                         cipher: key == nil ? nil : SwiftCryptoOMSCipher())
        let run = IECMeterReader.run(&session, meter: meter, bus: bus)
        var poll: MeterPoll
        switch run.result {
        case .success(let readout):
            let reading = MBusProfileDecoder.read(readout.records, map: link.map)
            var values = reading.values.filter { wanted?.contains($0.quantity) ?? true }
            values += reading.missing.filter { wanted?.contains($0) ?? true }.map { QuantityValue(quantity: $0, error: .undecodableValue) }
            poll = MeterPoll(values: values)
            if let error = values.lazy.compactMap(\.error).first { poll.valueError = error }
            reportStatus(readout.status, link: link, bus: bus)
        case .failure(let error):
            let code = run.portFailure != nil ? MeterErrorCode.ioError : MeterErrorCode(error)
            poll = MeterPoll(failed: code, quantities: quantities, detail: run.portFailure ?? error.description)
        }
        poll.transactions += run.transactions
        poll.wireMilliseconds += run.wireMilliseconds
        return poll
    }

    /// One event when the status byte changes: its flags as an alarm, or a notice that they cleared.
    static func reportStatus(_ status: MBusStatus?, link: MBusMeterLink, bus: BusOwner) {
        let status = status ?? MBusStatus(raw: 0)
        guard status != (link.reportedStatus ?? MBusStatus(raw: 0)) else { return }
        link.reportedStatus = status
        let now = bus.clock.now()
        if status.isOK {
            bus.logger.notice("meter \(link.meter): M-Bus status ok again")
            bus.onEvent(GatewayEvent(time: now, kind: .meterAlarm, severity: .info, bus: bus.name, meter: link.meter, message: "M-Bus status ok"))
        } else {
            bus.logger.warning("meter \(link.meter): M-Bus status \(status)")
            bus.onEvent(GatewayEvent(time: now, kind: .meterAlarm, severity: .warning, bus: bus.name, meter: link.meter,
                                     message: "M-Bus status: \(status)"))
        }
    }
}
