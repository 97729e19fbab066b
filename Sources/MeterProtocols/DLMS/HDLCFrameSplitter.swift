/// Cuts a byte stream into HDLC frames (flags included), whatever the byte arrival pattern: bytes
/// come in at any split, frames come out as soon as they are complete. Frames are delimited by the
/// length in their format field (DLMS HDLC has no byte stuffing), so a 7E inside a frame is data.
///
/// Bytes that cannot start a frame (noise before a flag, a 7E not followed by a type-3 format
/// field, a frame whose closing flag is missing) are skipped and counted in `discarded`; the
/// splitter then looks for the next flag. A closing flag may also open the next frame. Pure, no
/// clock: the caller decides when a partial frame has stalled (`reset()`).
public struct HDLCFrameSplitter: Sendable {
    private var buffer: [UInt8] = []
    /// Bytes skipped so far because they could not belong to a frame.
    public private(set) var discarded = 0

    public init() {}

    /// Whether part of a frame is waiting for more bytes.
    public var hasPartialFrame: Bool { buffer.contains(0x7E) && !(buffer.count == 1 && buffer[0] == 0x7E) }

    /// Bytes held (a partial frame, or a lone flag).
    public var buffered: Int { buffer.count }

    /// Drops everything held (after a stalled line, or a new conversation).
    public mutating func reset() {
        buffer = []
    }

    /// Appends `bytes` and returns every frame they complete, in order.
    public mutating func append<C: Collection>(_ bytes: C) -> [[UInt8]] where C.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        var frames: [[UInt8]] = []
        while let frame = next() { frames.append(frame) }
        return frames
    }

    private mutating func next() -> [UInt8]? {
        while true {
            guard let flag = buffer.firstIndex(of: 0x7E) else {
                discarded += buffer.count
                buffer = []
                return nil
            }
            if flag > 0 {
                discarded += flag
                buffer.removeFirst(flag)
            }
            if buffer.count >= 2 && buffer[1] == 0x7E {
                // Two flags in a row: the first closed a frame (or is idle fill), not noise.
                buffer.removeFirst()
                continue
            }
            guard buffer.count >= 3 else { return nil }
            // A valid start: 7E, format type 0xA, a length that covers at least the shortest frame.
            let length = Int(buffer[1] & 0x07) << 8 | Int(buffer[2])
            guard buffer[1] >> 4 == 0xA, length >= 7 else {
                discarded += 1
                buffer.removeFirst()
                continue
            }
            guard buffer.count >= length + 2 else { return nil }
            guard buffer[length + 1] == 0x7E else {
                discarded += 1
                buffer.removeFirst()
                continue
            }
            let frame = Array(buffer[0...(length + 1)])
            // Keep the closing flag: it may open the next frame.
            buffer.removeFirst(length + 1)
            return frame
        }
    }
}
