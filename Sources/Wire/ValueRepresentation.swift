/// How a column of Doubles is turned into integers without losing a single bit. The encoder picks the
/// first representation (smallest `decimals`, then in tag order) that reproduces every value's exact
/// bit pattern; raw bit patterns are the fallback. Tags are on the wire: see Docs/mqtt-api.md.
struct ValueRepresentation: Hashable, Sendable {
    enum Mode: UInt8, Sendable {
        /// value = Double(m) / 10^k (IEEE-754 double division): exact decimals such as 12345.678.
        case decimalQuotient = 0
        /// value = Double(m) × (1 / 10^k), the double nearest 10^-k: integer registers times a profile scale.
        case decimalProduct = 1
        /// value = Double(Float32(Double(m) / 10^k)): 32-bit floats whose shortest decimal is short.
        case float32Decimal = 2
        /// m = the 32-bit pattern of Float32(value).
        case float32Bits = 3
        /// m = the 64-bit pattern of the value, as a signed integer.
        case float64Bits = 4
    }

    var mode: Mode
    /// k, the number of decimal places (0…15); 0 for the bit-pattern modes.
    var decimals: Int

    static let maximumDecimals = 15
    /// 10^k for k = 0…15, each exact in a double.
    static let powersOfTen: [Double] = (0...maximumDecimals).map { k in
        var p = 1.0
        for _ in 0..<k { p *= 10 }
        return p
    }
    /// 2^53: integers up to this magnitude are exact in a double.
    private static let exactIntegerLimit = 9_007_199_254_740_992.0

    var isDecimal: Bool { mode.rawValue <= Mode.float32Decimal.rawValue }

    /// The value an integer stands for, or nil when the integer is out of range for the mode.
    @inline(__always)
    func value(of m: Int64) -> Double? {
        switch mode {
        case .decimalQuotient: return Double(m) / Self.powersOfTen[decimals]
        case .decimalProduct: return Double(m) * (1.0 / Self.powersOfTen[decimals])
        case .float32Decimal: return Double(Float(Double(m) / Self.powersOfTen[decimals]))
        case .float32Bits:
            guard let bits = UInt32(exactly: m) else { return nil }
            return Double(Float(bitPattern: bits))
        case .float64Bits: return Double(bitPattern: UInt64(bitPattern: m))
        }
    }

    /// The integers for `values` in this representation, or nil if any value would not come back
    /// bit for bit.
    func integers(for values: [Double]) -> [Int64]? {
        var out = [Int64]()
        out.reserveCapacity(values.count)
        switch mode {
        case .float64Bits:
            return values.map { Int64(bitPattern: $0.bitPattern) }
        case .float32Bits:
            for v in values {
                let f = Float(v)
                guard Double(f).bitPattern == v.bitPattern else { return nil }
                out.append(Int64(f.bitPattern))
            }
        case .decimalQuotient, .decimalProduct, .float32Decimal:
            let scale = Self.powersOfTen[decimals]
            for v in values {
                let scaled = v * scale
                guard abs(scaled) < Self.exactIntegerLimit else { return nil }
                let m = Int64(scaled.rounded())
                guard let back = value(of: m), back.bitPattern == v.bitPattern else { return nil }
                out.append(m)
            }
        }
        return out
    }

    /// The cheapest exact representation of `values` and their integers.
    static func choose(for values: [Double]) -> (ValueRepresentation, [Int64]) {
        let allFloat32 = values.allSatisfy { Double(Float($0)).bitPattern == $0.bitPattern }
        for k in 0...maximumDecimals {
            for mode in [Mode.decimalQuotient, .decimalProduct, .float32Decimal] where mode != .float32Decimal || allFloat32 {
                let rep = ValueRepresentation(mode: mode, decimals: k)
                if let ints = rep.integers(for: values) { return (rep, ints) }
            }
        }
        let rep = ValueRepresentation(mode: allFloat32 ? .float32Bits : .float64Bits, decimals: 0)
        return (rep, rep.integers(for: values)!)
    }
}
