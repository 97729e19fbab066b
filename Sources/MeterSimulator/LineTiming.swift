#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import MeterProtocols

/// A point on CLOCK_MONOTONIC, in nanoseconds. The line emulation paces bytes against it with
/// absolute deadlines (clock_nanosleep with TIMER_ABSTIME), so per-byte sleeps never add up to drift.
struct MonotonicInstant: Comparable, Hashable, Sendable {
    var nanoseconds: Int64

    static func now() -> MonotonicInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicInstant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }

    func adding(nanoseconds delta: Int64) -> MonotonicInstant { MonotonicInstant(nanoseconds: nanoseconds + delta) }

    /// Sleeps the calling dedicated thread until this instant.
    func sleepUntil() {
        var ts = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }

    static func < (a: MonotonicInstant, b: MonotonicInstant) -> Bool { a.nanoseconds < b.nanoseconds }
}

extension LineSettings {
    /// One character on the wire, in nanoseconds.
    var characterNanoseconds: Int64 { Int64((characterMicroseconds * 1000).rounded()) }
}

/// A request frame taken off the line, with the instant its last byte finished on the (emulated) wire.
struct ReceivedFrame: Hashable, Sendable {
    var bytes: [UInt8]
    var end: MonotonicInstant
}

/// Cuts the byte stream from the master into request frames, as an RTU slave does: a frame ends when
/// it is complete by its length (known function, valid CRC) or after 3.5 character times of silence.
///
/// A PTY delivers a whole write at once; the assembler gives every byte its character time on the
/// emulated wire (a byte finishes one character time after the later of its arrival and the end of the
/// previous byte), so a request "ends" when it would have on a real line. Pure: time is passed in.
struct FrameAssembler {
    let characterNanoseconds: Int64
    let silenceNanoseconds: Int64
    /// An RTU frame has at most 256 bytes, an HDLC frame 2049; more than this without silence is noise.
    static let capacity = 2100

    private(set) var buffer: [UInt8] = []
    private var wireEnd = MonotonicInstant(nanoseconds: 0)
    /// Set after a collision: everything up to the next silence is discarded.
    private var poisoned = false

    init(line: LineSettings) {
        characterNanoseconds = line.characterNanoseconds
        silenceNanoseconds = Int64((line.modbusInterFrameMicroseconds * 1000).rounded())
    }

    /// Bytes that arrived together at `time`.
    mutating func receive(_ bytes: [UInt8], at time: MonotonicInstant) {
        for b in bytes {
            wireEnd = max(time, wireEnd).adding(nanoseconds: characterNanoseconds)
            if buffer.count < FrameAssembler.capacity { buffer.append(b) } else { poisoned = true }
        }
    }

    /// Drops the frame in progress and everything else until the line is silent again.
    mutating func poison() { poisoned = true }

    /// The next frame that is complete by its length and CRC, removed from the buffer.
    mutating func takeCompleteFrame() -> ReceivedFrame? {
        // HDLC: flag 7E and a type-3 format field (a Modbus request to slave 126 also starts with
        // 7E, but no Modbus function code has the high nibble A).
        if !poisoned, buffer.first == 0x7E, buffer.count < 2 || buffer[1] >> 4 == 0xA { return takeHDLCFrame() }
        guard !poisoned, let length = ModbusRTUFrame.requestLength(prefix: buffer), buffer.count >= length else { return nil }
        let candidate = Array(buffer[0..<length])
        guard ModbusCRC.isValid(candidate) else { return nil }
        // When more bytes follow, the frame ended that many character times before the last one.
        let end = wireEnd.adding(nanoseconds: -Int64(buffer.count - length) * characterNanoseconds)
        buffer.removeFirst(length)
        return ReceivedFrame(bytes: candidate, end: end)
    }

    /// An HDLC frame (DLMS, IEC 62056-46) complete by the length in its format field and closed by
    /// its flag, removed from the buffer; the bytes are checked (HCS, FCS) by the meter that serves it.
    private mutating func takeHDLCFrame() -> ReceivedFrame? {
        guard buffer.count >= 3, buffer[1] >> 4 == 0xA else { return nil }
        let length = Int(buffer[1] & 0x07) << 8 | Int(buffer[2])
        guard buffer.count >= length + 2, buffer[length + 1] == 0x7E else { return nil }
        let end = wireEnd.adding(nanoseconds: -Int64(buffer.count - length - 2) * characterNanoseconds)
        let frame = Array(buffer[0..<(length + 2)])
        buffer.removeFirst(length + 2)
        return ReceivedFrame(bytes: frame, end: end)
    }

    /// When the bytes in progress end by silence, or nil when the buffer is empty.
    var silenceDeadline: MonotonicInstant? {
        buffer.isEmpty && !poisoned ? nil : wireEnd.adding(nanoseconds: silenceNanoseconds)
    }

    /// After 3.5 character times of silence: the bytes in progress as one frame (nil when poisoned
    /// or empty). The caller checks the CRC.
    mutating func takeSilentFrame(now: MonotonicInstant) -> ReceivedFrame? {
        guard let deadline = silenceDeadline, now >= deadline else { return nil }
        defer {
            buffer = []
            poisoned = false
        }
        return poisoned || buffer.isEmpty ? nil : ReceivedFrame(bytes: buffer, end: wireEnd)
    }
}
