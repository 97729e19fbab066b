import ConcentratorCore

/// Why registers do not decode to a usable number.
public enum ModbusValueError: Error, Hashable, Sendable, CustomStringConvertible {
    case wrongRegisterCount(type: RegisterValueType, expected: Int, received: Int)
    case notANumber(type: RegisterValueType)

    public var description: String {
        switch self {
        case .wrongRegisterCount(let t, let e, let r): return "\(t.rawValue) needs \(e) registers, got \(r)"
        case .notANumber(let t): return "\(t.rawValue) value is NaN or infinite"
        }
    }
}

/// Turns 16-bit registers into numbers and back, honouring byte and word order. Pure.
public enum ModbusValueCodec {
    /// The raw number the registers hold (before the profile's scale).
    public static func decode<C: Collection>(_ registers: C, type: RegisterValueType, byteOrder: RegisterByteOrder = .big,
                                             wordOrder: RegisterWordOrder = .big) throws(ModbusValueError) -> Double
    where C.Element == UInt16 {
        guard registers.count == type.registerCount else {
            throw .wrongRegisterCount(type: type, expected: type.registerCount, received: registers.count)
        }
        var words = Array(registers)
        if byteOrder == .little { words = words.map { $0.byteSwapped } }
        if wordOrder == .little { words.reverse() }
        var bits: UInt64 = 0
        for w in words { bits = bits << 16 | UInt64(w) }
        let value: Double
        switch type {
        case .u16: value = Double(UInt16(truncatingIfNeeded: bits))
        case .i16: value = Double(Int16(bitPattern: UInt16(truncatingIfNeeded: bits)))
        case .u32: value = Double(UInt32(truncatingIfNeeded: bits))
        case .i32: value = Double(Int32(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .u64: value = Double(bits)
        case .i64: value = Double(Int64(bitPattern: bits))
        case .f32: value = Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .f64: value = Double(bitPattern: bits)
        }
        guard value.isFinite else { throw .notANumber(type: type) }
        return value
    }

    /// The registers that hold `value` (already divided by the scale). Integers are rounded to the
    /// nearest and clamped to the type's range.
    public static func encode(_ value: Double, type: RegisterValueType, byteOrder: RegisterByteOrder = .big,
                              wordOrder: RegisterWordOrder = .big) -> [UInt16] {
        func clampInt<T: FixedWidthInteger>(_: T.Type) -> T {
            guard value.isFinite else { return 0 }
            let r = value.rounded()
            if r <= Double(T.min) { return T.min }
            if r >= Double(T.max) { return T.max }
            return T(r)
        }
        let bits: UInt64
        switch type {
        case .u16: bits = UInt64(clampInt(UInt16.self))
        case .i16: bits = UInt64(UInt16(bitPattern: clampInt(Int16.self)))
        case .u32: bits = UInt64(clampInt(UInt32.self))
        case .i32: bits = UInt64(UInt32(bitPattern: clampInt(Int32.self)))
        case .u64: bits = clampInt(UInt64.self)
        case .i64: bits = UInt64(bitPattern: clampInt(Int64.self))
        case .f32: bits = UInt64(Float(value).bitPattern)
        case .f64: bits = value.bitPattern
        }
        let n = type.registerCount
        var words = (0..<n).map { i in UInt16(truncatingIfNeeded: bits >> (16 * UInt64(n - 1 - i))) }
        if wordOrder == .little { words.reverse() }
        if byteOrder == .little { words = words.map { $0.byteSwapped } }
        return words
    }
}
