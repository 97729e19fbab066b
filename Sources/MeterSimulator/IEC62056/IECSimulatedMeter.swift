import ConcentratorCore
import MeterProtocols

/// How one simulated IEC 62056-21 meter is set up on the line.
public struct IECSimulatedMeterSetup: Hashable, Sendable {
    /// The device address it answers (`/?ADDR!`).
    public var deviceAddress: String
    /// A profile with an `iec` section.
    public var profile: MeterProfile
    /// The meter picks its own reaction time `tr` in this range (from its seed); the standard
    /// allows 200–1500 ms.
    public var reactionMilliseconds: ClosedRange<Int>
    /// The programming password (P1); nil: programming mode needs none.
    public var password: String?
    /// The zone the meter keeps its clock in.
    public var zone: IECMeterClockZone

    public init(deviceAddress: String, profile: MeterProfile, reactionMilliseconds: ClosedRange<Int> = 200...300,
                password: String? = nil, zone: IECMeterClockZone = .utc) {
        self.deviceAddress = deviceAddress
        self.profile = profile
        self.reactionMilliseconds = reactionMilliseconds
        self.password = password
        self.zone = zone
    }
}

/// What a simulated IEC meter does wrong on request. Text form (flags, control channel, served log):
/// `none`, `silence`, `bad-bcc`, `missing-etx`, `stall`, `slow:MS`.
public enum IECMeterFault: Hashable, Sendable, CustomStringConvertible {
    case none
    /// Does not answer the sign-on.
    case silence
    /// Answers data messages with a wrong block check character.
    case badBCC
    /// Ends the readout's data message after `! CR LF` without ETX and BCC.
    case missingETX
    /// Stops in the middle of every data message (a stalled line).
    case stall
    /// Answers this many milliseconds later than its reaction time.
    case slow(milliseconds: Int)

    public var description: String {
        switch self {
        case .none: return "none"
        case .silence: return "silence"
        case .badBCC: return "bad-bcc"
        case .missingETX: return "missing-etx"
        case .stall: return "stall"
        case .slow(let ms): return "slow:\(ms)"
        }
    }

    public static func parse(_ text: String) throws(SimulatorArgumentError) -> IECMeterFault {
        switch text {
        case "none": return .none
        case "silence": return .silence
        case "bad-bcc": return .badBCC
        case "missing-etx": return .missingETX
        case "stall": return .stall
        default: break
        }
        if let ms = text.value(after: "slow:") {
            guard let n = Int(ms), (1...60_000).contains(n) else {
                throw .invalid(what: "slow delay", value: ms, expected: "1-60000 milliseconds (e.g. slow:800)")
            }
            return .slow(milliseconds: n)
        }
        throw .invalid(what: "IEC fault", value: text, expected: "none, silence, bad-bcc, missing-etx, stall, slow:MS")
    }
}

/// One IEC 62056-21 meter: its identification, the readout built from its profile and value model,
/// its clock (settable in programming mode), its P.01 profile and its password. Pure: time comes in
/// with each call.
public struct IECSimulatedMeter: Sendable {
    public let deviceAddress: String
    public let profile: MeterProfile
    public let iec: IECProfile
    public let reactionMilliseconds: Int
    public let model: MeterValueModel
    public let zone: IECMeterClockZone
    let password: [UInt8]?
    /// How far the meter's clock is ahead of the simulator's time (negative: behind).
    public private(set) var clockOffsetMilliseconds: Int64 = 0
    /// The value of the error-code line (the profile's `errorCode`, else `F.F`), a bit field (control `iec-error`).
    public var errorCode: UInt32 = 0
    private let supply = SupplyLedger()

    /// Mode C meters propose this rate (the profile's maximum).
    public var proposedBaud: Int { iec.maximumBaud }

    public init(setup: IECSimulatedMeterSetup, seed: UInt64) throws(SimulatorError) {
        guard let iec = setup.profile.iec else {
            throw .invalidSetup("profile \(setup.profile.id) (IEC meter \"\(setup.deviceAddress)\") has no iec section")
        }
        guard (try? IECRequestMessage(deviceAddress: setup.deviceAddress)) != nil, !setup.deviceAddress.isEmpty else {
            throw .invalidSetup("IEC device address \"\(setup.deviceAddress)\" is empty, longer than 32 characters or holds / ? !")
        }
        if let pw = setup.password, pw.utf8.count > 32 || pw.utf8.contains(where: { $0 < 0x20 || $0 > 0x7E || $0 == 0x28 || $0 == 0x29 }) {
            throw .invalidSetup("the password of IEC meter \"\(setup.deviceAddress)\" must be 1-32 printable characters without parentheses")
        }
        let range = setup.reactionMilliseconds
        guard range.lowerBound >= 0, range.upperBound <= 10_000 else {
            throw .invalidSetup("reaction time \(range) ms for IEC meter \"\(setup.deviceAddress)\" is not within 0-10000 ms")
        }
        deviceAddress = setup.deviceAddress
        profile = setup.profile
        self.iec = iec
        zone = setup.zone
        password = setup.password.map { Array($0.utf8) }
        let key = setup.deviceAddress.utf8.reduce(UInt64(0x1EC)) { ($0 &* 31) &+ UInt64($1) }
        var random = SeededRandom(seed: SeededRandom.mix(seed ^ key))
        reactionMilliseconds = range.lowerBound + Int(random.next() % UInt64(range.upperBound - range.lowerBound + 1))
        model = MeterValueModel(seed: random.next())
    }

    /// The identification: the profile's manufacturer and ident prefix, the baud character of its
    /// mode, and the device address as serial.
    public var identification: IECIdentification {
        let pattern = iec.identification ?? IECIdentificationPattern(manufacturer: "SIM", identPrefix: "IEC")
        let z: UInt8 = switch iec.mode {
        case .c: IECBaudCharacter.modeCCharacter(for: proposedBaud) ?? UInt8(ascii: "0")
        case .b: IECBaudCharacter.modeBCharacter(for: proposedBaud) ?? UInt8(ascii: "A")
        case .a: UInt8(ascii: ":")
        }
        return IECIdentification(manufacturer: pattern.manufacturer, baudCharacter: z, ident: String((pattern.identPrefix + "-" + deviceAddress).prefix(16)))
    }

    /// The meter's clock reading at simulator time `time`.
    public func meterTime(at time: Timestamp) -> IECMeterTime { zone.meterTime(at: time.adding(milliseconds: clockOffsetMilliseconds)) }

    /// Moves the meter's clock so that it reads `meterTime` at `time`.
    public mutating func setClock(_ meterTime: IECMeterTime, at time: Timestamp) {
        clockOffsetMilliseconds = zone.timestamp(of: meterTime).milliseconds - time.milliseconds
    }

    /// Moves the clock by a control command (`iec-clock ADDR SECONDS`: that far ahead of `time`).
    public mutating func setClockOffset(seconds: Int64) { clockOffsetMilliseconds = seconds * 1000 }

    /// Digits after the point and zero-padded width the meter prints for a unit.
    static func format(for unit: String) -> (decimals: Int, width: Int) {
        switch unit {
        case "kWh", "kvarh", "kVAh", "kVArh", "Wh", "varh", "MWh": return (3, 11)
        case "kW", "kvar", "kVA", "kVAr": return (3, 6)
        case "V": return (1, 5)
        case "A": return (2, 6)
        case "Hz": return (2, 5)
        default: return (3, 0)
        }
    }

    /// The text a register carries at `time`, and the value a client decodes from it.
    func registerText(_ spec: IECRegisterSpec, values: [QuantityID: Double]) -> (text: String, served: Double) {
        let f = Self.format(for: spec.unit)
        let text = IECNumberText.format(spec.meterNumber(fromValue: values[spec.quantity] ?? 0), decimals: f.decimals, width: f.width)
        let served = spec.value(fromMeter: IECValue(text).number ?? 0)
        return (text, served)
    }

    /// The readout data block at `time` (the lines between STX and ETX), with what it served: the
    /// serial (C.1.0), every register, the clock when the profile has one, the error register.
    public func readout(at time: Timestamp) -> (body: [UInt8], served: [ServedValue]) {
        let values = model.values(at: time, supply: supply)
        var lines: [String] = ["C.1.0(" + deviceAddress + ")"]
        var served: [ServedValue] = []
        for spec in iec.registers {
            let r = registerText(spec, values: values)
            lines.append(spec.obis + "(" + r.text + (spec.unit.isEmpty ? "" : "*" + spec.unit) + ")")
            served.append(ServedValue(quantity: spec.quantity, value: r.served))
        }
        if let clock = iec.clock {
            let now = meterTime(at: time)
            lines.append(clock.timeOBIS + "(" + IECTimeText.formatTime(now, clock.timeFormat) + ")")
            lines.append(clock.dateOBIS + "(" + IECTimeText.formatDate(now, clock.dateFormat) + ")")
        }
        let hex = Hex.encode([UInt8(errorCode >> 24), UInt8(truncatingIfNeeded: errorCode >> 16),
                              UInt8(truncatingIfNeeded: errorCode >> 8), UInt8(truncatingIfNeeded: errorCode)]).uppercased()
        lines.append((iec.errorCode?.obis ?? "F.F") + "(" + hex + ")")
        var body: [UInt8] = []
        for line in lines { body += Array(line.utf8) + [IECCharacter.cr, IECCharacter.lf] }
        body += [IECCharacter.exclamation, IECCharacter.cr, IECCharacter.lf]
        return (body, served)
    }

    /// The answer to a programming-mode read of one data set (`0.9.1()`, `1.8.0()`, `P.01(from;to)`),
    /// as the body of a data message; nil when the meter has no such object (it answers `(ERROR)`).
    /// `withAddress`: R5 answers repeat the address, R1 answers do not.
    public func read(_ set: IECDataSet, withAddress: Bool, at time: Timestamp) -> [UInt8]? {
        guard let address = set.address, let code = try? OBISCode.parse(address) else { return nil }
        func answer(_ value: String) -> [UInt8] { Array(((withAddress ? address : "") + "(" + value + ")").utf8) }
        if let clock = iec.clock {
            let now = meterTime(at: time)
            if (try? OBISCode.parse(clock.timeOBIS)).map(code.matches) == true { return answer(IECTimeText.formatTime(now, clock.timeFormat)) }
            if (try? OBISCode.parse(clock.dateOBIS)).map(code.matches) == true { return answer(IECTimeText.formatDate(now, clock.dateFormat)) }
        }
        if let lp = iec.loadProfile, (try? OBISCode.parse(lp.obis)).map(code.matches) == true {
            return loadProfile(range: set.values.first?.text ?? ";", spec: lp, at: time)
        }
        let values = model.values(at: time, supply: supply)
        if let spec = iec.registers.first(where: { (try? OBISCode.parse($0.obis)).map(code.matches) == true }) {
            let r = registerText(spec, values: values)
            return answer(r.text + (spec.unit.isEmpty ? "" : "*" + spec.unit))
        }
        return nil
    }

    /// A clock write (`0.9.1(hhmmss)` or `0.9.2(YYMMDD)`): true when taken.
    public mutating func write(_ set: IECDataSet, at time: Timestamp) -> Bool {
        guard let clock = iec.clock, clock.writeCommand != nil, let address = set.address, let code = try? OBISCode.parse(address),
              let text = set.values.first?.text else { return false }
        var now = meterTime(at: time)
        if (try? OBISCode.parse(clock.timeOBIS)).map(code.matches) == true, let t = IECTimeText.parseTime(text, clock.timeFormat),
           let civil = CivilDateTime(year: now.civil.year, month: now.civil.month, day: now.civil.day, hour: t.hour, minute: t.minute, second: t.second) {
            now.civil = civil
        } else if (try? OBISCode.parse(clock.dateOBIS)).map(code.matches) == true, let d = IECTimeText.parseDate(text, clock.dateFormat),
                  let civil = CivilDateTime(year: d.year, month: d.month, day: d.day, hour: now.civil.hour, minute: now.civil.minute, second: now.civil.second) {
            now.civil = civil
        } else {
            return false
        }
        setClock(now, at: time)
        return true
    }

    /// The P.01 answer for `range` (`from;to` in the profile's range format, either side may be
    /// empty): one header and one line per period end within the range, up to the meter's now;
    /// nil (the meter answers `(ERROR)`) when no period lies in it.
    func loadProfile(range: String, spec: IECLoadProfileSpec, at time: Timestamp) -> [UInt8]? {
        let parts = range.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return nil }
        let period = Int64(spec.periodMinutes) * 60_000
        let nowMeter = time.adding(milliseconds: clockOffsetMilliseconds)
        func instant(_ text: String) -> Timestamp? { IECTimeText.parseStamp(text).map { zone.timestamp(of: $0) } }
        let to = parts[1].isEmpty ? nowMeter : (instant(parts[1]) ?? nowMeter)
        let from = parts[0].isEmpty ? to.adding(milliseconds: -period * 96) : (instant(parts[0]) ?? to)
        let last = min(to, nowMeter).milliseconds / period * period
        var first = (from.milliseconds + period - 1) / period * period
        first = max(first, last - period * Int64(IECLoadProfile.entryLimit - 1))
        guard first <= last else { return nil }
        var entries: [IECLoadProfile.Entry] = []
        var t = first
        while t <= last {
            // The meter's clock runs `clockOffset` ahead; its entry at meter time t holds the values of simulator time t - offset.
            let simTime = Timestamp(milliseconds: t - clockOffsetMilliseconds)
            let now = model.values(at: simTime, supply: supply)
            let before = model.values(at: simTime.adding(milliseconds: -period), supply: supply)
            let numbers: [Double?] = spec.channels.map { channel in
                let v: Double = switch channel.kind {
                case .counter, .average: now[channel.quantity] ?? 0
                case .delta: (now[channel.quantity] ?? 0) - (before[channel.quantity] ?? 0)
                }
                return IECUnitConversion.apply(1 / channel.scale, to: v)
            }
            entries.append(IECLoadProfile.Entry(time: zone.meterTime(at: Timestamp(milliseconds: t)), status: "00000000", values: numbers))
            t += period
        }
        var profile = IECLoadProfile(channels: spec.channels.map { IECLoadProfile.Channel(code: $0.obis, unit: $0.unit) },
                                     periodMinutes: spec.periodMinutes, entries: entries)
        if spec.rangeFormat != .seasonYYMMDDhhmm {
            profile.entries = profile.entries.map { IECLoadProfile.Entry(time: IECMeterTime($0.time.civil), status: $0.status, values: $0.values) }
        }
        var body: [UInt8] = []
        for line in profile.encodedLines(code: spec.obis, decimals: 5) { body += Array(line.utf8) + [IECCharacter.cr, IECCharacter.lf] }
        return body
    }

    /// Whether `password` opens programming mode.
    func accepts(password: [UInt8]?) -> Bool { self.password == nil || self.password == password }

    /// Whether programming mode needs the P1 password.
    var needsPassword: Bool { password != nil }
}
