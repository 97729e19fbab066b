import ConcentratorCore

/// What a batch carries. Raw values are on the wire (header byte 5).
public enum BatchKind: UInt8, Hashable, Sendable, CaseIterable {
    /// Snapshots of the main interval archive.
    case interval = 1
    /// Snapshots of the short load profile.
    case profile = 2
    /// Events (alarms, status changes).
    case events = 3
}

/// Header flags (u16, big-endian). Unknown bits make a batch malformed.
public struct BatchFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The sealed payload is one zstd frame; otherwise it is the body itself.
    public static let compressed = BatchFlags(rawValue: 1 << 0)
    /// Built from the archive backlog (not the latest interval).
    public static let backfill = BatchFlags(rawValue: 1 << 1)

    public static let known: BatchFlags = [.compressed, .backfill]
}

/// The clear-text header of a sealed batch: who sent it, which batch it is, what it covers and
/// which keys seal and sign it. It is the HPKE associated data and is covered by the signature.
/// Byte layout: Docs/mqtt-api.md, "Batch header".
public struct BatchHeader: Hashable, Sendable {
    /// "CCUB": concentrator uplink batch.
    public static let magic: [UInt8] = [0x43, 0x43, 0x55, 0x42]
    public static let formatVersion: UInt8 = 1
    /// Bytes of the header besides the device id.
    public static let fixedByteCount = 9 + 60

    public var kind: BatchKind
    public var flags: BatchFlags
    public var deviceID: String
    /// Per device, strictly increasing, never reused; the head-end dedups by (device, sequence).
    public var sequence: UInt64
    /// Interval batches: the first interval's start. Event batches: the earliest event's time.
    public var rangeStart: Timestamp
    /// Interval batches: the end of the last interval (exclusive). Event batches: the latest event's time.
    public var rangeEnd: Timestamp
    /// Interval length in seconds; 0 for event batches.
    public var intervalSeconds: UInt32
    /// Distinct meters in the body.
    public var meterCount: UInt32
    /// Values (numbers and error codes) in an interval body; events in an event body.
    public var valueCount: UInt32
    /// The head-end X25519 key the batch is sealed to.
    public var sealingKeyID: KeyID
    /// The device Ed25519 key that signs the batch.
    public var signingKeyID: KeyID
    /// Length of the body before compression (the bound for decompression).
    public var bodyLength: UInt32
    /// Length of the HPKE ciphertext including its 16-byte tag.
    public var ciphertextLength: UInt32

    public init(kind: BatchKind, flags: BatchFlags, deviceID: String, sequence: UInt64, rangeStart: Timestamp,
                rangeEnd: Timestamp, intervalSeconds: UInt32, meterCount: UInt32, valueCount: UInt32, sealingKeyID: KeyID,
                signingKeyID: KeyID, bodyLength: UInt32, ciphertextLength: UInt32) {
        self.kind = kind
        self.flags = flags
        self.deviceID = deviceID
        self.sequence = sequence
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.intervalSeconds = intervalSeconds
        self.meterCount = meterCount
        self.valueCount = valueCount
        self.sealingKeyID = sealingKeyID
        self.signingKeyID = signingKeyID
        self.bodyLength = bodyLength
        self.ciphertextLength = ciphertextLength
    }

    public var byteCount: Int { Self.fixedByteCount + deviceID.utf8.count }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: byteCount)
        w.raw(Self.magic)
        w.u8(Self.formatVersion)
        w.u8(kind.rawValue)
        w.bigEndian(flags.rawValue)
        let id = Array(deviceID.utf8)
        w.u8(UInt8(id.count))
        w.raw(id)
        w.bigEndian(sequence)
        w.bigEndian(rangeStart.milliseconds)
        w.bigEndian(rangeEnd.milliseconds)
        w.bigEndian(intervalSeconds)
        w.bigEndian(meterCount)
        w.bigEndian(valueCount)
        w.raw(sealingKeyID.bytes)
        w.raw(signingKeyID.bytes)
        w.bigEndian(bodyLength)
        w.bigEndian(ciphertextLength)
        return w.bytes
    }

    /// Parses a header at the reader's position. A version other than 1 throws `unsupportedVersion`.
    static func parse(_ r: inout ByteReader) throws(BatchOpenError) -> BatchHeader {
        do {
            let magic = try r.raw(4, "magic")
            guard magic == Self.magic else { throw WireFormatError("magic is not \"CCUB\"", at: 0) }
            let version = try r.u8("format version")
            guard version == Self.formatVersion else { throw BatchOpenError.unsupportedVersion(version) }
            let kindByte = try r.u8("batch kind")
            guard let kind = BatchKind(rawValue: kindByte) else { throw WireFormatError("unknown batch kind \(kindByte)", at: 5) }
            let flags = BatchFlags(rawValue: try r.bigEndian(UInt16.self, "flags"))
            guard BatchFlags.known.isSuperset(of: flags) else { throw WireFormatError("unknown flag bits", at: 6) }
            let idLength = Int(try r.u8("device id length"))
            let idBytes = try r.raw(idLength, "device id")
            guard let deviceID = DeviceIdentifier.validated(idBytes) else {
                throw WireFormatError("device id is not 1…64 of [A-Za-z0-9._-]", at: 9)
            }
            let sequence = try r.bigEndian(UInt64.self, "sequence")
            let start = try r.bigEndian(Int64.self, "range start")
            let end = try r.bigEndian(Int64.self, "range end")
            let interval = try r.bigEndian(UInt32.self, "interval length")
            let meters = try r.bigEndian(UInt32.self, "meter count")
            let values = try r.bigEndian(UInt32.self, "value count")
            let sealing = try KeyID(bytes: r.raw(8, "sealing key id"))
            let signing = try KeyID(bytes: r.raw(8, "signing key id"))
            let bodyLength = try r.bigEndian(UInt32.self, "body length")
            let ciphertextLength = try r.bigEndian(UInt32.self, "ciphertext length")
            let isEvents = kind == .events
            guard isEvents ? interval == 0 : (interval > 0 && interval % 60 == 0) else {
                throw WireFormatError("interval length \(interval) s does not suit a \(kind) batch", at: 9 + idLength + 24)
            }
            return BatchHeader(kind: kind, flags: flags, deviceID: deviceID, sequence: sequence,
                               rangeStart: Timestamp(milliseconds: start), rangeEnd: Timestamp(milliseconds: end),
                               intervalSeconds: interval, meterCount: meters, valueCount: values, sealingKeyID: sealing,
                               signingKeyID: signing, bodyLength: bodyLength, ciphertextLength: ciphertextLength)
        } catch let e as WireFormatError {
            throw .malformed(e)
        } catch let e as BatchOpenError {
            throw e
        } catch {
            // KeyID(bytes:) cannot fail for 8 bytes; kept total for the typed throw.
            throw .malformed(WireFormatError("\(error)", at: r.offset))
        }
    }
}

/// Device identifiers as they appear in headers, acks and topics: 1…64 bytes of letters, digits,
/// '.', '_' and '-' (so that one is always a single MQTT topic level).
public enum DeviceIdentifier {
    public static let maximumBytes = 64

    public static func isValid(_ id: String) -> Bool { validated(Array(id.utf8)) != nil }

    static func validated(_ bytes: [UInt8]) -> String? {
        guard (1...maximumBytes).contains(bytes.count) else { return nil }
        for b in bytes {
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x5F || b == 0x2D
            if !ok { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
