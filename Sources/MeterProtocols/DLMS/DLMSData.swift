import ConcentratorCore

/// One value of the COSEM `Data` CHOICE (Blue Book DLMS UA 1000-1 §4.1.5; Green Book §9.5,
/// "Data ::= CHOICE"), encoded in A-XDR by `DLMSDataCodec`: a tag byte, then the value.
/// Integers are big-endian two's complement; strings carry an A-XDR length.
public indirect enum DLMSData: Hashable, Sendable {
    case null
    case array([DLMSData])
    case structure([DLMSData])
    case boolean(Bool)
    /// `bitCount` bits, first bit in the most significant bit of the first byte.
    case bitString(bitCount: Int, bytes: [UInt8])
    case doubleLong(Int32)
    case doubleLongUnsigned(UInt32)
    case octetString([UInt8])
    case visibleString([UInt8])
    case utf8String([UInt8])
    case bcd(Int8)
    case integer(Int8)
    case long(Int16)
    case unsigned(UInt8)
    case longUnsigned(UInt16)
    /// A compact array (tag 19): the element type description and the decoded elements.
    case compactArray(DLMSTypeDescription, [DLMSData])
    case long64(Int64)
    case long64Unsigned(UInt64)
    case enumerated(UInt8)
    case float32(Float)
    case float64(Double)
    case dateTime([UInt8])
    case date([UInt8])
    case time([UInt8])
    case dontCare

    /// The A-XDR tag of this value's type.
    public var tag: UInt8 {
        switch self {
        case .null: return 0
        case .array: return 1
        case .structure: return 2
        case .boolean: return 3
        case .bitString: return 4
        case .doubleLong: return 5
        case .doubleLongUnsigned: return 6
        case .octetString: return 9
        case .visibleString: return 10
        case .utf8String: return 12
        case .bcd: return 13
        case .integer: return 15
        case .long: return 16
        case .unsigned: return 17
        case .longUnsigned: return 18
        case .compactArray: return 19
        case .long64: return 20
        case .long64Unsigned: return 21
        case .enumerated: return 22
        case .float32: return 23
        case .float64: return 24
        case .dateTime: return 25
        case .date: return 26
        case .time: return 27
        case .dontCare: return 255
        }
    }

    /// The value as a number, for every numeric type (integers, enum, bcd, floats, boolean);
    /// nil for strings, arrays and structures.
    public var number: Double? {
        switch self {
        case .boolean(let b): return b ? 1 : 0
        case .doubleLong(let v): return Double(v)
        case .doubleLongUnsigned(let v): return Double(v)
        case .bcd(let v): return Double(v)
        case .integer(let v): return Double(v)
        case .long(let v): return Double(v)
        case .unsigned(let v): return Double(v)
        case .longUnsigned(let v): return Double(v)
        case .long64(let v): return Double(v)
        case .long64Unsigned(let v): return Double(v)
        case .enumerated(let v): return Double(v)
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return nil
        }
    }

    /// The bytes of an octet string, visible string, UTF-8 string or date/time value.
    public var bytes: [UInt8]? {
        switch self {
        case .octetString(let b), .visibleString(let b), .utf8String(let b), .dateTime(let b), .date(let b), .time(let b):
            return b
        default:
            return nil
        }
    }

    /// The elements of an array, structure or compact array.
    public var elements: [DLMSData]? {
        switch self {
        case .array(let e), .structure(let e), .compactArray(_, let e): return e
        default: return nil
        }
    }
}

/// The element type of a compact array (Blue Book §4.1.5, "TypeDescription"): a simple type tag,
/// an array of `count` elements of one type, or a structure of several types.
public indirect enum DLMSTypeDescription: Hashable, Sendable {
    case simple(UInt8)
    case array(count: Int, DLMSTypeDescription)
    case structure([DLMSTypeDescription])
}
