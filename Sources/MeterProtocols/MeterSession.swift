import ConcentratorCore

/// A conversation with one meter as a pure state machine: the bus owner performs each step on its
/// port (write, read, switch the line, wait) and feeds back what happened; the session decides what
/// comes next. No clock, no I/O: the same session runs against a real port, a PTY, or a test that
/// feeds captured bytes (the shape of async-http-client's connection state machines).
///
/// Every protocol that is not Modbus (IEC 62056-21, DLMS/COSEM over HDLC, M-Bus) implements its
/// readout, profile read, clock set and so on as a `MeterSession`, so one bus thread can drive mixed
/// protocols on one line, switching line settings between transactions (DESIGN rule 1).
public protocol MeterSession {
    /// What a finished session produced (values, a profile, a clock reading, …).
    associatedtype Outcome

    /// The first step. Called once.
    mutating func start() -> MeterSessionStep<Outcome>

    /// Bytes that arrived since the last call (possibly one byte, possibly several frames' worth).
    /// The session keeps its own receive buffer and answers `.awaitMore` until an answer is complete.
    mutating func received(_ bytes: [UInt8]) -> MeterSessionStep<Outcome>

    /// The wait of the last `.transmit`/`.receive` step ran out (no first byte within
    /// `firstByteWithin`, or a gap longer than `interCharacterGap` inside an answer).
    mutating func timedOut() -> MeterSessionStep<Outcome>
}

/// How long the bus owner waits for an answer after a `.transmit` or `.receive` step.
public struct AnswerWait: Hashable, Sendable {
    /// The reaction time allowed before the first byte of the answer.
    public var firstByteWithin: Duration
    /// The largest silence allowed between two bytes inside one answer.
    public var interCharacterGap: Duration

    public init(firstByteWithin: Duration, interCharacterGap: Duration) {
        self.firstByteWithin = firstByteWithin
        self.interCharacterGap = interCharacterGap
    }
}

/// The next thing the bus owner must do for a session.
public enum MeterSessionStep<Outcome> {
    /// Switch the line to `line` first when it is not nil, write `bytes`, then read the answer
    /// within `wait`, feeding bytes back through `received`. `wait == nil`: nothing is answered
    /// (a broadcast or an acknowledgement); call `received([])` right after the write.
    case transmit(bytes: [UInt8], line: LineSettings?, wait: AnswerWait?)
    /// Keep reading under the current wait (the answer is not complete yet).
    case awaitMore
    /// Read without writing (a meter that sends on its own, or the rest of a multi-frame answer).
    case receive(line: LineSettings?, wait: AnswerWait)
    /// Stay silent for `duration` (a protocol pause, e.g. before a baud-rate switch), switching the
    /// line to `line` afterwards when it is not nil, then call `received([])`.
    case pause(Duration, line: LineSettings?)
    /// The session is over.
    case finished(Outcome)
    /// The session failed for this meter; the rest of the bus goes on.
    case failed(MeterSessionError)
}

/// Why a conversation with one meter failed. Carries what and where, never a key or a password.
public struct MeterSessionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Broad classes the bus owner treats differently (timeouts adapt the meter's timeout;
    /// security failures raise an event; a garbled answer counts as present-but-garbled).
    public enum Kind: String, Hashable, Sendable {
        /// No answer, or the line stalled inside an answer.
        case timeout
        /// The answer arrived but its check (CRC, FCS, HCS, BCC, parity) failed.
        case badCheck
        /// The answer is well framed but does not follow the protocol.
        case malformed
        /// The meter answered with a refusal (an exception, a DM, a data-access-result error, …).
        case refused
        /// Authentication or deciphering failed (wrong key or password, bad tag, replayed counter).
        case security
        /// The meter dropped the association or the link in the middle.
        case aborted
    }

    public var kind: Kind
    /// What went wrong, for the log and the event (no secrets).
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}
