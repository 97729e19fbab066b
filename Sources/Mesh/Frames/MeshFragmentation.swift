import ConcentratorCore

/// One piece of a frame too large for its link's MTU. Byte layout (Docs/mesh.md, "Fragment"):
/// format 0x02 ‖ sender (u64) ‖ tag (u16) ‖ index (u8) ‖ count (u8, 2…255) ‖ chunk (≥ 1 byte).
/// Fragments carry no MAC of their own: the reassembled frame's MAC covers every chunk, so a forged
/// fragment only spoils the frame it joins.
public struct MeshFragment: Hashable, Sendable {
    public static let formatByte: UInt8 = 0x02
    public static let headerLength = 13

    public var sender: MeshNodeID
    /// Distinguishes the sender's frames being fragmented at the same time.
    public var tag: UInt16
    public var index: UInt8
    public var count: UInt8
    public var chunk: [UInt8]

    public init(sender: MeshNodeID, tag: UInt16, index: UInt8, count: UInt8, chunk: [UInt8]) {
        self.sender = sender
        self.tag = tag
        self.index = index
        self.count = count
        self.chunk = chunk
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: Self.headerLength + chunk.count)
        w.u8(Self.formatByte)
        w.bigEndian(sender.rawValue)
        w.bigEndian(tag)
        w.u8(index)
        w.u8(count)
        w.raw(chunk)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(MeshFrameError) -> MeshFragment {
        var r = ByteReader(bytes)
        return try MeshFrameError.decoding {
            let format = try r.u8("format byte")
            guard format == formatByte else { throw MeshFrameError.unsupportedVersion(format) }
            let sender = MeshNodeID(try r.bigEndian(UInt64.self, "fragment sender"))
            let tag = try r.bigEndian(UInt16.self, "fragment tag")
            let index = try r.u8("fragment index")
            let count = try r.u8("fragment count")
            guard sender.isNodeAddress else { throw MeshFrameError.invalidField("fragment sender \(sender) is a reserved address") }
            guard count >= 2, index < count else {
                throw MeshFrameError.inconsistentFragment("fragment \(index) of \(count) from \(sender)")
            }
            guard !r.isAtEnd else { throw MeshFrameError.malformed(r.error("truncated: expected a fragment chunk")) }
            return MeshFragment(sender: sender, tag: tag, index: index, count: count, chunk: r.rest())
        }
    }

    /// The datagrams that carry `frame` over a link of `mtu` bytes: the frame itself when it fits,
    /// otherwise fragments of `mtu` bytes (the last one shorter). Nil when the MTU is too small for a
    /// fragment or the frame would need more than 255 fragments.
    public static func datagrams(for frame: [UInt8], sender: MeshNodeID, tag: UInt16, mtu: Int) -> [[UInt8]]? {
        if frame.count <= mtu { return [frame] }
        let chunkLength = mtu - headerLength
        guard chunkLength >= 1 else { return nil }
        let count = (frame.count + chunkLength - 1) / chunkLength
        guard count <= 255 else { return nil }
        return (0..<count).map { i in
            let chunk = Array(frame[(i * chunkLength)..<min(frame.count, (i + 1) * chunkLength)])
            return MeshFragment(sender: sender, tag: tag, index: UInt8(i), count: UInt8(count), chunk: chunk).encoded()
        }
    }
}

/// Reassembles fragmented frames from one link. Bounded: at most `maximumPartials` frames in
/// progress and `maximumBufferedBytes` held (the oldest partial is evicted first), no frame larger
/// than `MeshFrame.maximumFrameLength`, and a partial that gets no fragment for `timeoutMilliseconds`
/// is dropped. Pure: time comes in with each call.
public struct MeshReassembler: Sendable {
    struct Key: Hashable, Sendable {
        var sender: MeshNodeID
        var tag: UInt16
    }

    struct Partial: Sendable {
        var chunks: [[UInt8]?]
        var received = 0
        var bytes = 0
        var lastFragmentAt: Timestamp
        var started: UInt64
    }

    public let maximumPartials: Int
    public let maximumBufferedBytes: Int
    public let timeoutMilliseconds: Int64
    private var partials: [Key: Partial] = [:]
    private var bufferedBytes = 0
    private var starts: UInt64 = 0

    /// Frames completed, partials dropped by timeout, and partials evicted for space.
    public private(set) var completed = 0
    public private(set) var timedOut = 0
    public private(set) var evicted = 0

    public init(maximumPartials: Int = 16, maximumBufferedBytes: Int = 2 * MeshFrame.maximumFrameLength,
                timeoutMilliseconds: Int64 = 30_000) {
        self.maximumPartials = max(1, maximumPartials)
        self.maximumBufferedBytes = max(MeshFrame.maximumFrameLength, maximumBufferedBytes)
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    public var partialCount: Int { partials.count }
    public var heldBytes: Int { bufferedBytes }

    /// Takes one fragment. Returns the whole frame when this fragment completes it, nil while more
    /// are missing (a repeated fragment is ignored), or throws when the fragment contradicts its
    /// frame (that frame is dropped).
    public mutating func accept(_ fragment: MeshFragment, at now: Timestamp) throws(MeshFrameError) -> [UInt8]? {
        expire(at: now)
        let key = Key(sender: fragment.sender, tag: fragment.tag)
        var partial: Partial
        if let existing = partials[key] {
            partial = existing
            guard partial.chunks.count == Int(fragment.count) else {
                drop(key)
                throw .inconsistentFragment("fragment count \(fragment.count) differs from \(partial.chunks.count) for tag \(fragment.tag) of \(fragment.sender)")
            }
        } else {
            starts += 1
            partial = Partial(chunks: Array(repeating: nil, count: Int(fragment.count)), lastFragmentAt: now, started: starts)
        }
        let index = Int(fragment.index)
        if partial.chunks[index] != nil {
            partials[key] = partial
            return nil
        }
        guard partial.bytes + fragment.chunk.count <= MeshFrame.maximumFrameLength else {
            drop(key)
            throw .oversized(length: partial.bytes + fragment.chunk.count, maximum: MeshFrame.maximumFrameLength)
        }
        partial.chunks[index] = fragment.chunk
        partial.received += 1
        partial.bytes += fragment.chunk.count
        partial.lastFragmentAt = now
        bufferedBytes += fragment.chunk.count
        if partial.received == partial.chunks.count {
            var frame: [UInt8] = []
            frame.reserveCapacity(partial.bytes)
            for chunk in partial.chunks { frame += chunk ?? [] }
            if partials[key] != nil { partials[key] = nil }
            bufferedBytes -= partial.bytes
            completed += 1
            return frame
        }
        partials[key] = partial
        while partials.count > maximumPartials || bufferedBytes > maximumBufferedBytes {
            guard let oldest = partials.min(by: { $0.value.started < $1.value.started })?.key else { break }
            drop(oldest)
            evicted += 1
        }
        return nil
    }

    /// Drops partials that got no fragment within the timeout; returns how many.
    @discardableResult
    public mutating func expire(at now: Timestamp) -> Int {
        let stale = partials.filter { now.milliseconds - $0.value.lastFragmentAt.milliseconds >= timeoutMilliseconds }.map(\.key)
        for key in stale { drop(key) }
        timedOut += stale.count
        return stale.count
    }

    /// When the next partial times out, if any.
    public var nextExpiry: Timestamp? {
        partials.values.map(\.lastFragmentAt).min().map { $0.adding(milliseconds: timeoutMilliseconds) }
    }

    private mutating func drop(_ key: Key) {
        guard let partial = partials.removeValue(forKey: key) else { return }
        bufferedBytes -= partial.bytes
    }
}
