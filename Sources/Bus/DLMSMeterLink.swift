import ConcentratorCore
import MeterProtocols

/// The state of one DLMS/COSEM meter's link on the bus thread: where it answers, what its profile
/// asks, the scaler_units learnt so far, the invocation counters reserved for it (durable before
/// use, `InvocationCounterStore`), and the association of a load-profile read that yielded between
/// blocks (so an urgent read of another meter can run in between).
final class DLMSMeterLink {
    let meter: MeterID
    let section: DLMSProfileSection
    let serverAddress: HDLCAddress
    /// Scaler and unit of each register, read once (attribute 3) and kept.
    var scalerUnits: [COSEMLogicalName: COSEMScalerUnit] = [:]
    /// The next invocation counter to use and the last one made durable; 0 before the first reservation.
    private(set) var nextCounter: UInt32 = 0
    private(set) var reservedThrough: UInt32 = 0
    /// An association kept open between the steps of a load-profile read.
    var openAssociation: DLMSAssociation?
    /// Counts associations opened; a read that yielded continues only when no other opened since.
    var generation = 0

    /// Counters reserved at once (one durable write per reservation).
    static let reservationSize: UInt32 = 100

    init?(settings: MeterSettings, profile: MeterProfile) {
        guard let section = profile.dlms, case .hdlc(let physical) = settings.address else { return nil }
        meter = settings.id
        self.section = section
        serverAddress = .server(logical: section.logicalDevice, physical: physical, size: section.serverAddressSize)
    }

    /// Whether associations cipher (HLS-GMAC), so that they need invocation counters.
    var usesInvocationCounters: Bool {
        if case .highLevelGMAC = section.security { return true }
        return false
    }

    /// The key ids the meter's security names (for the audit; never the keys).
    var keyIDs: [String] {
        switch section.security {
        case .none: return []
        case .lowLevel(let id): return [id]
        case .highLevelGMAC(let ek, let ak): return [ek, ak]
        }
    }

    /// The client's security for this meter, with the secrets from its key file.
    func security(_ services: BusMeterServices) -> Result<DLMSClientSecurity, MeterSessionError> {
        if case .none = section.security { return .success(.none) }
        guard let source = services.secrets else {
            return .failure(MeterSessionError(.security, "meter \(meter) uses \(section.security.name) security, but no key store is configured"))
        }
        let secrets: MeterSecrets
        switch source.secrets(for: meter) {
        case .success(let s): secrets = s
        case .failure(let problem): return .failure(MeterSessionError(.security, problem.description))
        }
        switch section.security {
        case .none:
            return .success(.none)
        case .lowLevel(let id):
            guard let password = secrets.secret(id: id, kind: "password"), !password.isEmpty else {
                return .failure(MeterSessionError(.security, "the key file of meter \(meter) has no LLS password (\(id) or password); import it with the console (keys, meter)"))
            }
            return .success(.lowLevel(password: password))
        case .highLevelGMAC(let ek, let ak):
            guard let e = secrets.secret(id: ek, kind: "encryption").flatMap(DLMSKey.init),
                  let a = secrets.secret(id: ak, kind: "authentication").flatMap(DLMSKey.init) else {
                return .failure(MeterSessionError(.security, "the key file of meter \(meter) lacks a 128-bit encryption (\(ek)) or authentication (\(ak)) key; import them with the console (keys, meter)"))
            }
            return .success(.highLevelGMAC(keys: DLMSSecurityKeys(encryption: e, authentication: a),
                                           clientSystemTitle: services.clientSystemTitle))
        }
    }

    /// The client settings of one association, with the meter's learned reaction time.
    func clientSettings(security: DLMSClientSecurity, line: LineSettings, timer: ResponseTimer) -> DLMSClientSettings {
        let info = section.maxInfoField ?? 128, window = section.windowSize ?? 1
        let reaction = timer.responseTimeoutMilliseconds(requestWireMilliseconds: 0)
        // A gap inside one frame: a USB adapter delivers in chunks (16 ms latency timer), a busy host wakes late.
        let gap = max(50, 5 * line.characterMicroseconds / 1000)
        return DLMSClientSettings(clientAddress: section.clientAddress, serverAddress: serverAddress, security: security,
                                  hdlc: HDLCParameters(maxInfoTransmit: info, maxInfoReceive: info, windowTransmit: window, windowReceive: window),
                                  maxReceivePDUSize: 1024, line: LineSettings(baud: line.baud),
                                  wait: AnswerWait(firstByteWithin: .milliseconds(Int64(reaction.rounded(.up))),
                                                   interCharacterGap: .milliseconds(Int64(gap.rounded(.up)))))
    }

    /// Makes sure at least `needed` counters are reserved and durable beyond `nextCounter`; returns
    /// the range the next association may use.
    func reserveCounters(needed: UInt32, store: (any InvocationCounterStore)?) -> Result<ClosedRange<UInt32>, MeterSessionError> {
        if nextCounter != 0, reservedThrough >= nextCounter, reservedThrough - nextCounter + 1 >= needed {
            return .success(nextCounter...reservedThrough)
        }
        guard let store else {
            return .failure(MeterSessionError(.security, "meter \(meter) uses HLS, which needs durable invocation counters, and this bus has no counter store"))
        }
        do {
            let range = try store.reserve(meter: meter, count: max(Self.reservationSize, needed))
            if nextCounter == 0 || range.lowerBound != reservedThrough &+ 1 || nextCounter > reservedThrough {
                nextCounter = max(range.lowerBound, 1)
            }
            reservedThrough = range.upperBound
            return .success(nextCounter...reservedThrough)
        } catch {
            return .failure(MeterSessionError(.security, "cannot reserve invocation counters for meter \(meter): \(error)"))
        }
    }

    /// Takes note of the counters an association used (also after a failure: they are spent).
    func spent(_ association: DLMSAssociation) {
        if let next = association.cipher?.nextInvocationCounter, next > nextCounter { nextCounter = next }
    }

    /// The load profile that fills `series` (intervals of `lengthMinutes`): one recorded for that
    /// series at that period first, then one whose period divides the length (its rows at the
    /// series' boundaries are used).
    func loadProfile(for series: SeriesKind, lengthMinutes: Int) -> DLMSLoadProfileSpec? {
        let length = lengthMinutes * 60
        let usable = section.loadProfiles.filter { $0.periodSeconds > 0 && length % $0.periodSeconds == 0
            && $0.captureObjects.contains(where: \.isClock) && $0.captureObjects.contains { $0.quantity != nil } }
        return usable.first { $0.series == series && $0.periodSeconds == length }
            ?? usable.first { $0.series == series }
            ?? usable.max { $0.periodSeconds < $1.periodSeconds }
    }
}

/// How one IEC 62056-21 meter is reached: its sign-on options from the profile and address, and
/// the clock zone its readings are in.
final class IECMeterLink {
    let meter: MeterID
    let profile: IECProfile
    let options: IECLinkOptions
    let zone = IECMeterClockZone.utc

    init?(settings: MeterSettings, profile: MeterProfile) {
        guard let iec = profile.iec, case .iecDevice(let address) = settings.address else { return nil }
        meter = settings.id
        self.profile = iec
        options = IECLinkOptions(deviceAddress: address, profile: iec)
    }

    /// The programming password (P1) from the meter's key file, if its profile names one.
    func password(_ services: BusMeterServices) -> Result<[UInt8]?, MeterSessionError> {
        guard let id = profile.passwordID else { return .success(nil) }
        guard let source = services.secrets else {
            return .failure(MeterSessionError(.security, "meter \(meter) needs its P1 password (\(id)), but no key store is configured"))
        }
        switch source.secrets(for: meter) {
        case .success(let secrets):
            guard let password = secrets.secret(id: id, kind: "password"), !password.isEmpty else {
                return .failure(MeterSessionError(.security, "the key file of meter \(meter) has no P1 password (\(id) or password); import it with the console (keys, meter)"))
            }
            return .success(password)
        case .failure(let problem):
            return .failure(MeterSessionError(.security, problem.description))
        }
    }

    /// Whether the P.01 profile fills `series`: counter channels only, at a period that divides it.
    func backfills(_ series: SeriesKind, lengthMinutes: Int) -> Bool {
        guard let lp = profile.loadProfile, lp.periodMinutes > 0, lengthMinutes % lp.periodMinutes == 0 else { return false }
        return lp.channels.contains { $0.kind == .counter }
    }
}
