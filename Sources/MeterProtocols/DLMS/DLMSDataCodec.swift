import ConcentratorCore

/// A-XDR encoding and decoding of `DLMSData` (IEC 61334-6 as used by the Green Book §9.5).
/// Decoding never traps: lengths and element counts are checked against the bytes that remain,
/// nesting is limited to `maximumDepth`, and every failure is a `ByteFormatError` with the offset.
public enum DLMSDataCodec {
    /// Deepest nesting of arrays and structures accepted (real meters use 3 or 4).
    public static let maximumDepth = 16

    // MARK: - Encoding

    public static func encode(_ data: DLMSData) -> [UInt8] {
        var w = ByteWriter(capacity: 32)
        encode(data, to: &w)
        return w.bytes
    }

    public static func encode(_ data: DLMSData, to w: inout ByteWriter) {
        w.u8(data.tag)
        encodeValue(data, to: &w)
    }

    /// The value without its tag (what a compact array holds).
    static func encodeValue(_ data: DLMSData, to w: inout ByteWriter) {
        switch data {
        case .null, .dontCare: break
        case .array(let e), .structure(let e):
            AXDRLength.write(e.count, to: &w)
            for x in e { encode(x, to: &w) }
        case .boolean(let b): w.u8(b ? 1 : 0)
        case .bitString(let count, let bytes):
            AXDRLength.write(count, to: &w)
            w.raw(bytes.prefix((count + 7) / 8))
            if bytes.count < (count + 7) / 8 { w.raw([UInt8](repeating: 0, count: (count + 7) / 8 - bytes.count)) }
        case .doubleLong(let v): w.bigEndian(v)
        case .doubleLongUnsigned(let v): w.bigEndian(v)
        case .octetString(let b), .visibleString(let b), .utf8String(let b):
            AXDRLength.write(b.count, to: &w)
            w.raw(b)
        case .bcd(let v), .integer(let v): w.bigEndian(v)
        case .long(let v): w.bigEndian(v)
        case .unsigned(let v), .enumerated(let v): w.u8(v)
        case .longUnsigned(let v): w.bigEndian(v)
        case .compactArray(let type, let elements):
            encodeType(type, to: &w)
            var contents = ByteWriter()
            for e in elements { encodeTyped(e, type, to: &contents) }
            AXDRLength.write(contents.bytes.count, to: &w)
            w.raw(contents.bytes)
        case .long64(let v): w.bigEndian(v)
        case .long64Unsigned(let v): w.bigEndian(v)
        case .float32(let f): w.bigEndian(f.bitPattern)
        case .float64(let d): w.bigEndian(d.bitPattern)
        case .dateTime(let b), .date(let b), .time(let b): w.raw(b)
        }
    }

    /// A compact-array element: no tags and no counts, the type description says what follows.
    static func encodeTyped(_ data: DLMSData, _ type: DLMSTypeDescription, to w: inout ByteWriter) {
        switch (type, data) {
        case (.array(_, let element), .array(let items)), (.array(_, let element), .structure(let items)):
            for item in items { encodeTyped(item, element, to: &w) }
        case (.structure(let members), .structure(let items)), (.structure(let members), .array(let items)):
            for (member, item) in zip(members, items) { encodeTyped(item, member, to: &w) }
        default:
            encodeValue(data, to: &w)
        }
    }

    static func encodeType(_ type: DLMSTypeDescription, to w: inout ByteWriter) {
        switch type {
        case .simple(let tag): w.u8(tag)
        case .array(let count, let element):
            w.u8(1)
            w.bigEndian(UInt16(clamping: count))
            encodeType(element, to: &w)
        case .structure(let members):
            w.u8(2)
            AXDRLength.write(members.count, to: &w)
            for m in members { encodeType(m, to: &w) }
        }
    }

    // MARK: - Decoding

    /// Decodes exactly one value that fills `bytes`.
    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> DLMSData {
        var r = ByteReader(bytes)
        let value = try decode(&r)
        guard r.isAtEnd else { throw r.error("\(r.remaining) bytes after the value") }
        return value
    }

    /// Decodes one value from the reader's position.
    public static func decode(_ r: inout ByteReader, depth: Int = 0) throws(ByteFormatError) -> DLMSData {
        let at = r.offset
        let tag = try r.u8("data tag")
        return try decodeValue(tag: tag, at: at, &r, depth: depth)
    }

    static func decodeValue(tag: UInt8, at: Int, _ r: inout ByteReader, depth: Int) throws(ByteFormatError) -> DLMSData {
        switch tag {
        case 0: return .null
        case 1, 2:
            guard depth < maximumDepth else { throw ByteFormatError("nesting deeper than \(maximumDepth)", at: at) }
            let count = try AXDRLength.read(&r, tag == 1 ? "array" : "structure")
            var elements: [DLMSData] = []
            elements.reserveCapacity(min(count, 1024))
            for _ in 0..<count { elements.append(try decode(&r, depth: depth + 1)) }
            return tag == 1 ? .array(elements) : .structure(elements)
        case 3:
            let b = try r.u8("boolean")
            return .boolean(b != 0)
        case 4:
            let bits = try AXDRLength.read(&r, "bit-string", checkRemaining: false)
            return .bitString(bitCount: bits, bytes: try r.raw((bits + 7) / 8, "bit-string"))
        case 5: return .doubleLong(try r.bigEndian(Int32.self, "double-long"))
        case 6: return .doubleLongUnsigned(try r.bigEndian(UInt32.self, "double-long-unsigned"))
        case 9, 10, 12:
            let length = try AXDRLength.read(&r, "string")
            let b = try r.raw(length, "string")
            return tag == 9 ? .octetString(b) : (tag == 10 ? .visibleString(b) : .utf8String(b))
        case 13: return .bcd(try r.bigEndian(Int8.self, "bcd"))
        case 15: return .integer(try r.bigEndian(Int8.self, "integer"))
        case 16: return .long(try r.bigEndian(Int16.self, "long"))
        case 17: return .unsigned(try r.u8("unsigned"))
        case 18: return .longUnsigned(try r.bigEndian(UInt16.self, "long-unsigned"))
        case 19:
            guard depth < maximumDepth else { throw ByteFormatError("nesting deeper than \(maximumDepth)", at: at) }
            let type = try decodeType(&r, depth: depth + 1)
            let length = try AXDRLength.read(&r, "compact-array contents")
            var contents = ByteReader(r.bytes, from: r.offset, to: r.offset + length)
            try r.skip(length, "compact-array contents")
            var elements: [DLMSData] = []
            while !contents.isAtEnd {
                let before = contents.offset
                elements.append(try decodeTyped(type, &contents, depth: depth + 1))
                if contents.offset == before { throw contents.error("compact-array element of no bytes") }
            }
            return .compactArray(type, elements)
        case 20: return .long64(try r.bigEndian(Int64.self, "long64"))
        case 21: return .long64Unsigned(try r.bigEndian(UInt64.self, "long64-unsigned"))
        case 22: return .enumerated(try r.u8("enum"))
        case 23: return .float32(Float(bitPattern: try r.bigEndian(UInt32.self, "float32")))
        case 24: return .float64(Double(bitPattern: try r.bigEndian(UInt64.self, "float64")))
        case 25: return .dateTime(try r.raw(12, "date-time"))
        case 26: return .date(try r.raw(5, "date"))
        case 27: return .time(try r.raw(4, "time"))
        case 255: return .dontCare
        default: throw ByteFormatError("unknown data tag \(tag)", at: at)
        }
    }

    static func decodeType(_ r: inout ByteReader, depth: Int) throws(ByteFormatError) -> DLMSTypeDescription {
        let at = r.offset
        guard depth < maximumDepth else { throw ByteFormatError("type description nested deeper than \(maximumDepth)", at: at) }
        let tag = try r.u8("type description")
        switch tag {
        case 1:
            let count = Int(try r.bigEndian(UInt16.self, "compact-array element count"))
            return .array(count: count, try decodeType(&r, depth: depth + 1))
        case 2:
            let count = try AXDRLength.read(&r, "structure type description")
            var members: [DLMSTypeDescription] = []
            for _ in 0..<count { members.append(try decodeType(&r, depth: depth + 1)) }
            return .structure(members)
        case 0, 3, 4, 5, 6, 9, 10, 12, 13, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27:
            return .simple(tag)
        default:
            throw ByteFormatError("type tag \(tag) cannot describe a compact-array element", at: at)
        }
    }

    /// The fewest bytes a value of `type` takes (untagged), capped to avoid overflow.
    static func minimumWidth(_ type: DLMSTypeDescription) -> Int {
        switch type {
        case .simple(let tag): return tag == 0 ? 0 : 1
        case .array(let count, let element): return min(1 << 20, count * min(1 << 20, minimumWidth(element)))
        case .structure(let members): return min(1 << 20, members.reduce(0) { $0 + minimumWidth($1) })
        }
    }

    static func decodeTyped(_ type: DLMSTypeDescription, _ r: inout ByteReader, depth: Int) throws(ByteFormatError) -> DLMSData {
        guard depth < maximumDepth else { throw r.error("nesting deeper than \(maximumDepth)") }
        switch type {
        case .simple(let tag):
            return try decodeValue(tag: tag, at: r.offset, &r, depth: depth)
        case .array(let count, let element):
            let width = minimumWidth(element)
            guard width > 0 else { throw r.error("compact-array of elements without bytes") }
            guard count <= r.remaining / width else { throw r.error("truncated: compact-array of \(count) elements") }
            var e: [DLMSData] = []
            for _ in 0..<count { e.append(try decodeTyped(element, &r, depth: depth + 1)) }
            return .array(e)
        case .structure(let members):
            var e: [DLMSData] = []
            for m in members { e.append(try decodeTyped(m, &r, depth: depth + 1)) }
            return .structure(e)
        }
    }
}
