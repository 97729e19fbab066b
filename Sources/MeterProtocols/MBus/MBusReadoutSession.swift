import ConcentratorCore

/// Which slave a wired session talks to.
public enum MBusTarget: Hashable, Sendable, CustomStringConvertible {
    case primary(UInt8)
    case secondary(MBusSecondaryAddress)

    public var description: String {
        switch self {
        case .primary(let a): return "primary address \(a)"
        case .secondary(let s): return "secondary address \(s)"
        }
    }
}

/// How a wired M-Bus conversation runs.
public struct MBusSessionOptions: Hashable, Sendable {
    /// EN 13757-2 default: 2400 baud, 8 data bits, even parity, 1 stop bit.
    public static let standardLine = LineSettings(baud: 2400, dataBits: 8, parity: .even, stopBits: 1)

    public var line: LineSettings
    public var wait: AnswerWait
    /// Send SND_NKE first (the slave then expects FCB = 1, and a secondary selection starts clean).
    public var resetFirst: Bool
    /// Stop a multi-telegram readout after this many telegrams.
    public var maximumTelegrams: Int
    /// Repeats of one request after a timeout or a garbled answer (same FCB, so the slave repeats).
    public var retries: Int
    /// Strip the echo of the request when the level converter sends one.
    public var stripEcho: Bool

    public init(line: LineSettings = standardLine, wait: AnswerWait? = nil, resetFirst: Bool = true, maximumTelegrams: Int = 8,
                retries: Int = 2, stripEcho: Bool = true) {
        self.line = line
        self.wait = wait ?? Self.answerWait(for: line)
        self.resetFirst = resetFirst
        self.maximumTelegrams = max(1, maximumTelegrams)
        self.retries = max(0, retries)
        self.stripEcho = stripEcho
    }

    /// EN 13757-2 §5.4: a slave answers between 11 bit times and 330 bit times + 50 ms after the
    /// request. The wait adds 200 ms for USB level converters; inside an answer a gap of 20
    /// character times (at least 50 ms) ends it.
    public static func answerWait(for line: LineSettings) -> AnswerWait {
        let bitMicroseconds = 1_000_000 / Double(line.baud)
        let first = Int64(330 * bitMicroseconds) + 250_000
        let gap = max(Int64(20 * line.characterMicroseconds), 50_000)
        return AnswerWait(firstByteWithin: .microseconds(first), interCharacterGap: .microseconds(gap))
    }
}

/// What a wired readout produced.
public struct MBusReadout: Hashable, Sendable {
    /// Every RSP_UD of the readout, decoded, in order.
    public var telegrams: [MBusApplicationData]
    /// Whether the level converter echoed the requests.
    public var echoSeen: Bool

    /// The records of all telegrams, in order.
    public var records: [MBusDataRecord] { telegrams.flatMap(\.records) }
    /// The meter's identity, from the first long header.
    public var identity: MBusIdentity? { telegrams.lazy.compactMap(\.meter).first }
    /// The status byte of the last telegram that had one.
    public var status: MBusStatus? { telegrams.reversed().lazy.compactMap(\.status).first }
}

/// Reads one wired M-Bus slave (EN 13757-2 and -3) as a `MeterSession`: SND_NKE, the secondary
/// selection when addressed by secondary address, then REQ_UD2/RSP_UD with the FCB toggled for
/// each further telegram while the slave says "more records follow" (DIF 1F).
public struct MBusReadoutSession: MeterSession {
    public typealias Outcome = MBusReadout

    private enum Phase: Equatable { case reset, select, request }

    private let target: MBusTarget
    private let options: MBusSessionOptions
    private let key: MeterKey?
    private let cipher: (any OMSCipher)?
    private var phase = Phase.reset
    private var fcb = true
    private var attempt = 0
    private var lineSent = false
    private var lastRequest: [UInt8] = []
    private var splitter = MBusFrameSplitter()
    private var echo = MBusEchoFilter()
    private var garbled = false
    private var telegrams: [MBusApplicationData] = []

    /// `key` and `cipher` decrypt telegrams with security mode 5 or 7 (OMS Annex N example N.5.4).
    public init(target: MBusTarget, options: MBusSessionOptions = MBusSessionOptions(), key: MeterKey? = nil,
                cipher: (any OMSCipher)? = nil) {
        self.target = target
        self.options = options
        self.key = key
        self.cipher = cipher
    }

    private var linkAddress: UInt8 {
        if case .primary(let a) = target { return a }
        return MBusLinkAddress.network
    }

    public mutating func start() -> MeterSessionStep<MBusReadout> {
        if options.resetFirst { return send(phase: .reset) }
        if case .secondary = target { return send(phase: .select) }
        return send(phase: .request)
    }

    private mutating func send(phase next: Phase, repeatRequest: Bool = false) -> MeterSessionStep<MBusReadout> {
        if next != phase || !repeatRequest { attempt = 0 }
        phase = next
        let frame: MBusFrame
        switch next {
        case .reset:
            frame = .short(control: MBusControl.sndNKE, address: linkAddress)
        case .select:
            guard case .secondary(let address) = target else { fatalError("selection without a secondary address") }
            frame = MBusSelection.frame(address)
        case .request:
            frame = .short(control: MBusControl.reqUD2 | (fcb ? MBusControl.fcb : 0), address: linkAddress)
        }
        lastRequest = frame.encode()
        _ = splitter.reset()
        garbled = false
        if options.stripEcho { echo.arm(with: lastRequest) }
        let line: LineSettings? = lineSent ? nil : options.line
        lineSent = true
        return .transmit(bytes: lastRequest, line: line, wait: options.wait)
    }

    public mutating func received(_ bytes: [UInt8]) -> MeterSessionStep<MBusReadout> {
        let clean = options.stripEcho ? echo.filter(bytes) : bytes
        for event in splitter.push(clean) {
            switch event {
            case .noise, .corrupt:
                garbled = true
            case .frame(let frame):
                if let step = handle(frame) { return step }
            }
        }
        return .awaitMore
    }

    private mutating func handle(_ frame: MBusFrame) -> MeterSessionStep<MBusReadout>? {
        switch (phase, frame) {
        case (.reset, .acknowledgement):
            if case .secondary = target { return send(phase: .select) }
            return send(phase: .request)
        case (.select, .acknowledgement):
            return send(phase: .request)
        case (.request, .long(let control, _, let ci, let data)) where MBusControl.isResponseWithData(control):
            if ci == MBusCI.applicationError {
                return .failed(MeterSessionError(.refused, "M-Bus slave at \(target) reports application error \(data.first.map(String.init) ?? "?")"))
            }
            let application: MBusApplicationData
            do {
                application = try MBusApplicationLayer.decode([ci] + data, ciOffset: 0, linkIdentity: nil, key: key, cipher: cipher)
            } catch {
                return .failed(error.sessionError)
            }
            telegrams.append(application)
            fcb.toggle()
            if application.block.moreRecordsFollow, telegrams.count < options.maximumTelegrams {
                return send(phase: .request)
            }
            return .finished(MBusReadout(telegrams: telegrams, echoSeen: echo.echoesStripped > 0))
        case (.request, .control(let control, _, _)) where MBusControl.isResponseWithData(control):
            return .failed(MeterSessionError(.malformed, "M-Bus slave at \(target) answered RSP_UD without a transport layer"))
        default:
            garbled = true
            return nil
        }
    }

    public mutating func timedOut() -> MeterSessionStep<MBusReadout> {
        if options.stripEcho, !echo.release().isEmpty { garbled = true }
        if !splitter.reset().isEmpty { garbled = true }
        if phase == .reset, !garbled {
            // Some slaves do not acknowledge SND_NKE; the conversation goes on without it.
            if case .secondary = target { return send(phase: .select) }
            return send(phase: .request)
        }
        if attempt < options.retries {
            let next = attempt + 1
            let step = send(phase: phase, repeatRequest: true)
            attempt = next
            return step
        }
        let what: String
        switch phase {
        case .reset: what = "SND_NKE"
        case .select: what = "the selection"
        case .request: what = "REQ_UD2 (telegram \(telegrams.count + 1))"
        }
        if garbled {
            return .failed(MeterSessionError(.badCheck, "garbled answer to \(what) from the M-Bus slave at \(target); check for two slaves with the same address"))
        }
        return .failed(MeterSessionError(.timeout, "no answer to \(what) from the M-Bus slave at \(target); check its address, the wiring and the line settings (\(options.line.summary))"))
    }
}

/// Selection by secondary address (EN 13757-3 §11.5): SND_UD to 0xFD with CI 0x52 and the 8-byte
/// address, F digits and FF bytes as wildcards.
public enum MBusSelection {
    public static func data(_ address: MBusSecondaryAddress) -> [UInt8] {
        var id: UInt32 = 0
        for digit in address.digits { id = id << 4 | UInt32(digit ?? 0xF) }
        var w = ByteWriter(capacity: 8)
        w.littleEndian(id)
        w.littleEndian(address.manufacturer ?? 0xFFFF)
        w.u8(address.version ?? 0xFF)
        w.u8(address.medium ?? 0xFF)
        return w.bytes
    }

    public static func frame(_ address: MBusSecondaryAddress) -> MBusFrame {
        .long(control: MBusControl.sndUD, address: MBusLinkAddress.network, ci: MBusCI.selectSecondary, data: data(address))
    }

    /// The address a selection frame's data carries (the simulated slaves read it).
    public static func address(fromData data: [UInt8]) -> MBusSecondaryAddress? {
        guard data.count == 8 else { return nil }
        let id = UInt32(MBusDataCoding.unsignedInteger(data[0..<4]))
        let digits: [UInt8?] = (0..<8).reversed().map { i in
            let d = UInt8((id >> UInt32(4 * i)) & 0xF)
            return d == 0xF ? nil : d
        }
        let m = UInt16(data[4]) | UInt16(data[5]) << 8
        return MBusSecondaryAddress(digits: digits, manufacturer: m == 0xFFFF ? nil : m, version: data[6] == 0xFF ? nil : data[6],
                                    medium: data[7] == 0xFF ? nil : data[7])
    }
}
