/// Cuts the byte stream from an M-Bus level converter into frames, whatever way the bytes arrive
/// (one at a time, several frames at once). Bytes that cannot start a frame are reported as noise;
/// a well-delimited frame whose checksum or stop byte is wrong is reported as corrupt (a collision
/// of several slaves looks like either). Pure.
public struct MBusFrameSplitter {
    /// What the stream held.
    public enum Event: Hashable, Sendable {
        case frame(MBusFrame)
        /// Bytes that start no frame (skipped one by one until a frame start).
        case noise([UInt8])
        /// A frame-shaped run of bytes that fails its check.
        case corrupt([UInt8], MBusFrameError)
    }

    private var buffer: [UInt8] = []

    public init() {}

    /// Bytes held for a frame that is not complete yet.
    public var pendingCount: Int { buffer.count }

    /// Feeds bytes and returns every event they complete, in order.
    public mutating func push(_ bytes: [UInt8]) -> [Event] {
        buffer += bytes
        var events: [Event] = []
        var noise: [UInt8] = []
        func flushNoise() {
            if !noise.isEmpty { events.append(.noise(noise)); noise = [] }
        }
        while let first = buffer.first {
            switch first {
            case MBusFrame.singleCharacter:
                flushNoise()
                events.append(.frame(.acknowledgement))
                buffer.removeFirst()
                continue
            case MBusFrame.shortStart:
                guard buffer.count >= 5 else { flushNoise(); return events }
                let candidate = Array(buffer[0..<5])
                if candidate[4] != MBusFrame.stop {
                    noise.append(buffer.removeFirst())
                    continue
                }
                flushNoise()
                buffer.removeFirst(5)
                events.append(Self.event(candidate))
                continue
            case MBusFrame.longStart:
                guard buffer.count >= 4 else { flushNoise(); return events }
                guard buffer[1] == buffer[2], buffer[3] == MBusFrame.longStart, buffer[1] >= 3 else {
                    noise.append(buffer.removeFirst())
                    continue
                }
                let total = Int(buffer[1]) + 6
                guard buffer.count >= total else { flushNoise(); return events }
                flushNoise()
                let candidate = Array(buffer[0..<total])
                buffer.removeFirst(total)
                events.append(Self.event(candidate))
                continue
            default:
                noise.append(buffer.removeFirst())
            }
        }
        flushNoise()
        return events
    }

    /// Drops what is held (after a timeout: the rest of that frame will not come).
    public mutating func reset() -> [UInt8] {
        defer { buffer = [] }
        return buffer
    }

    private static func event(_ candidate: [UInt8]) -> Event {
        do {
            return .frame(try MBusFrame.decode(candidate))
        } catch {
            return .corrupt(candidate, error)
        }
    }
}

/// Strips the echo of the request that some level converters (and RS-232 adapters with a shared
/// line) send back before the slave's answer. Arm it with each request just written; bytes that
/// repeat the request from its first byte are dropped, anything else passes. A partial match that
/// breaks off was not an echo: its bytes pass too. Pure.
public struct MBusEchoFilter {
    private var expected: [UInt8] = []
    private var matched = 0
    /// Echoes seen since creation (a converter that echoes does it every time).
    public private(set) var echoesStripped = 0

    public init() {}

    /// The request that was just written.
    public mutating func arm(with request: [UInt8]) {
        expected = request
        matched = 0
    }

    /// Bytes as they came from the port; returns those that are not the echo.
    public mutating func filter(_ bytes: [UInt8]) -> [UInt8] {
        guard !expected.isEmpty else { return bytes }
        var index = 0
        while index < bytes.count, matched < expected.count {
            guard bytes[index] == expected[matched] else {
                // Not an echo after all: give back what was held, then the rest.
                let held = Array(expected[0..<matched])
                expected = []
                matched = 0
                return held + bytes[index...]
            }
            matched += 1
            index += 1
        }
        if matched == expected.count {
            expected = []
            matched = 0
            echoesStripped += 1
        }
        return Array(bytes[index...])
    }

    /// The bytes held as a possible echo (when the wait ends mid-echo they were the answer after all).
    public mutating func release() -> [UInt8] {
        defer { expected = []; matched = 0 }
        return Array(expected[0..<matched])
    }
}
