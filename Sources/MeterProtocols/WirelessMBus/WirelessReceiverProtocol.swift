import ConcentratorCore

/// The radio modes a receiver listens in (EN 13757-4). The receiver's own protocol decides how a
/// mode is requested; the sync words and preambles are its business.
public enum WirelessLinkMode: String, Hashable, Sendable, CaseIterable {
    /// T1: frequent transmit, meter to collector only, 100 kcps, format A.
    case t1
    /// C1: compact mode, 100 kcps, format A or B.
    case c1
    /// C1 and T1 at once (receivers that support it).
    case c1t1 = "c1+t1"
}

/// A telegram as a receiver delivered it.
public struct ReceivedRadioFrame: Hashable, Sendable {
    /// The frame bytes from its L field on.
    public var bytes: [UInt8]
    /// Whether the receiver left the data-link CRCs in.
    public var crc: WirelessFrameCRC
    /// Signal strength in dBm, as far as the receiver reports it.
    public var rssiDBm: Int?

    public init(bytes: [UInt8], crc: WirelessFrameCRC, rssiDBm: Int?) {
        self.bytes = bytes
        self.crc = crc
        self.rssiDBm = rssiDBm
    }
}

/// What came from a receiver's serial port.
public enum WirelessReceiverEvent: Hashable, Sendable {
    case telegram(ReceivedRadioFrame)
    /// The answer to a configuration or liveness command: which command, and whether it succeeded.
    case confirmation(command: String, ok: Bool)
    /// Bytes that were skipped to find the next message, with why.
    case discarded(count: Int, reason: String)
}

/// One USB wireless M-Bus receiver family's serial protocol: an incremental decoder of what it
/// sends, and the commands that set it up. New receivers (Amber AMB8465, …) implement this too.
public protocol WirelessReceiverProtocol {
    /// The serial line the receiver uses.
    static var line: LineSettings { get }
    /// A name for logs and the configuration (`im871a`).
    static var name: String { get }

    /// Bytes from the port, split anywhere; returns the events they complete.
    mutating func receive(_ bytes: [UInt8]) -> [WirelessReceiverEvent]

    /// The command that makes the receiver listen in `mode` and report telegrams with their RSSI,
    /// and the name its confirmation carries.
    func configurationCommand(for mode: WirelessLinkMode) -> (bytes: [UInt8], confirmation: String)
}

/// What configuring a receiver produced: whether it confirmed, and the telegrams it delivered while
/// the command was in flight (they are not lost).
public struct WirelessReceiverSetup: Hashable, Sendable {
    public var confirmed: Bool
    public var telegrams: [ReceivedRadioFrame]
}

/// Sets a receiver's link mode as a `MeterSession`: send the configuration command, wait for its
/// confirmation, keep every telegram that arrives meanwhile. The bus owner runs it when it opens
/// the receiver's port and after the port comes back.
public struct WirelessReceiverConfigurationSession<Receiver: WirelessReceiverProtocol>: MeterSession {
    public typealias Outcome = WirelessReceiverSetup

    private var receiver: Receiver
    private let mode: WirelessLinkMode
    private let wait: AnswerWait
    private var telegrams: [ReceivedRadioFrame] = []
    private var expected = ""
    private var attemptsLeft: Int

    public init(receiver: Receiver, mode: WirelessLinkMode,
                wait: AnswerWait = AnswerWait(firstByteWithin: .milliseconds(500), interCharacterGap: .milliseconds(100)),
                attempts: Int = 2) {
        self.receiver = receiver
        self.mode = mode
        self.wait = wait
        attemptsLeft = max(1, attempts)
    }

    /// The decoder, with any partial message it holds: hand it on to the reception loop.
    public var decoder: Receiver { receiver }

    public mutating func start() -> MeterSessionStep<WirelessReceiverSetup> {
        attemptsLeft -= 1
        let command = receiver.configurationCommand(for: mode)
        expected = command.confirmation
        return .transmit(bytes: command.bytes, line: Receiver.line, wait: wait)
    }

    public mutating func received(_ bytes: [UInt8]) -> MeterSessionStep<WirelessReceiverSetup> {
        for event in receiver.receive(bytes) {
            switch event {
            case .telegram(let frame):
                telegrams.append(frame)
            case .confirmation(let command, let ok) where command == expected:
                if ok { return .finished(WirelessReceiverSetup(confirmed: true, telegrams: telegrams)) }
                return .failed(MeterSessionError(.refused, "the \(Receiver.name) receiver refused the \(mode.rawValue) configuration"))
            case .confirmation, .discarded:
                break
            }
        }
        return .awaitMore
    }

    public mutating func timedOut() -> MeterSessionStep<WirelessReceiverSetup> {
        if attemptsLeft > 0 { return start() }
        return .failed(MeterSessionError(.timeout, "the \(Receiver.name) receiver did not confirm the \(mode.rawValue) configuration; check its port and that it is an \(Receiver.name)"))
    }
}
