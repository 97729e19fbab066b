import ConcentratorCore

/// A reference to an earlier value column of the same layout, added or subtracted in a prediction.
struct ColumnReference: Hashable, Sendable {
    /// Position of the referenced column in the layout; always before the predicted column.
    var position: Int
    var negated: Bool
}

/// How each integer of a sequence is predicted from what the decoder already knows. The wire carries
/// only `value − prediction` (the residual). Tags are on the wire: see Docs/mqtt-api.md.
enum IntegerPredictor: Hashable, Sendable {
    /// Tag 0: prediction 0.
    case none
    /// Tag 1: the previous value of the sequence (0 for the first).
    case previous
    /// Tag 2: the last earlier value of the same meter; if none, the previous value; if none, 0.
    case sameMeter
    /// Tag 3: the sum of ±(integer of the referenced column in the same row); 0 where that cell is an error.
    case references([ColumnReference])

    var tag: UInt8 {
        switch self {
        case .none: return 0
        case .previous: return 1
        case .sameMeter: return 2
        case .references: return 3
        }
    }
}

/// What a predictor may look at: the meter of each value (for `sameMeter`) and, for `references`,
/// the referenced columns' integers aligned to this sequence's values.
struct PredictionContext {
    /// Meter index of each value, or nil where `sameMeter` is not allowed (the meter column itself).
    var meters: [Int]?
    var meterCount: Int
    /// Position of the column being coded (references must point before it); nil for row columns.
    var position: Int?
    /// Integers of the column at `position`, aligned to this sequence's values.
    var referenced: (Int) -> [Int64]

    static func rows(meters: [Int]?, meterCount: Int) -> PredictionContext {
        PredictionContext(meters: meters, meterCount: meterCount, position: nil, referenced: { _ in [] })
    }
}

/// Codes a sequence of 64-bit integers: predictor, then residuals shifted by a base (optionally
/// zigzagged), bit-packed at one width, with the few values that do not fit listed as exceptions.
/// All arithmetic wraps modulo 2^64, so any input round-trips.
enum IntegerSequenceCodec {
    /// How the residuals are laid out on the wire.
    struct Packing: Hashable {
        var zigzag: Bool
        var base: Int64
        var width: Int
        /// Estimated size in bits (used to choose between candidates).
        var costBits: Int
    }

    // MARK: Encoding

    static func residuals(_ values: [Int64], _ predictor: IntegerPredictor, _ context: PredictionContext) -> [Int64] {
        var out = [Int64](repeating: 0, count: values.count)
        switch predictor {
        case .none:
            return values
        case .previous:
            var previous: Int64 = 0
            for i in values.indices {
                out[i] = values[i] &- previous
                previous = values[i]
            }
        case .sameMeter:
            var last = [Int64?](repeating: nil, count: context.meterCount)
            var previous: Int64 = 0
            let meters = context.meters ?? []
            for i in values.indices {
                let m = meters[i]
                out[i] = values[i] &- (last[m] ?? previous)
                last[m] = values[i]
                previous = values[i]
            }
        case .references(let refs):
            out = values
            for ref in refs {
                let column = context.referenced(ref.position)
                for i in values.indices {
                    out[i] = ref.negated ? out[i] &+ column[i] : out[i] &- column[i]
                }
            }
        }
        return out
    }

    /// The cheapest packing of `residuals` (by estimated bits).
    static func packing(of residuals: [Int64]) -> Packing {
        guard !residuals.isEmpty else { return Packing(zigzag: false, base: 0, width: 0, costBits: 0) }
        let minimum = residuals.min()!
        var sorted = residuals
        sorted.sort()
        let median = sorted[sorted.count / 2]
        let plain = bestWidth(residuals.map { UInt64(bitPattern: $0 &- minimum) })
        let zig = bestWidth(residuals.map { Zigzag.encode($0 &- median) })
        if zig.cost < plain.cost {
            return Packing(zigzag: true, base: median, width: zig.width, costBits: zig.cost + varintBits(Zigzag.encode(median)))
        }
        return Packing(zigzag: false, base: minimum, width: plain.width, costBits: plain.cost + varintBits(Zigzag.encode(minimum)))
    }

    /// A quick estimate of `packing(of:).costBits` that skips the median (no sort): for searching.
    static func quickCost(of residuals: [Int64]) -> Int {
        guard let minimum = residuals.min() else { return 0 }
        return bestWidth(residuals.map { UInt64(bitPattern: $0 &- minimum) }).cost
    }

    /// Estimated cost in bits of the cheapest width for these unsigned values, counting about one
    /// byte of gap plus the high bits' varint for each exception.
    private static func bestWidth(_ values: [UInt64]) -> (width: Int, cost: Int) {
        var histogram = [Int](repeating: 0, count: 65)
        for v in values { histogram[64 - v.leadingZeroBitCount] += 1 }
        var best = (width: 64, cost: Int.max)
        for width in 0...64 {
            var cost = values.count * width + 8
            for bits in (width + 1)..<65 where histogram[bits] > 0 {
                cost += histogram[bits] * 8 * (1 + (bits - width + 6) / 7)
            }
            if cost < best.cost { best = (width, cost) }
        }
        return best
    }

    private static func varintBits(_ v: UInt64) -> Int { 8 * max(1, (64 - v.leadingZeroBitCount + 6) / 7) }

    /// Writes predictor, packing header, packed residuals and exceptions.
    static func write(_ values: [Int64], predictor: IntegerPredictor, context: PredictionContext,
                      into writer: inout ByteWriter) {
        let r = residuals(values, predictor, context)
        let p = packing(of: r)
        writer.u8(predictor.tag)
        if case .references(let refs) = predictor {
            writer.u8(UInt8(refs.count))
            for ref in refs {
                writer.varint(ref.position)
                writer.u8(ref.negated ? 1 : 0)
            }
        }
        writer.u8((p.zigzag ? 0x80 : 0) | UInt8(p.width))
        writer.svarint(p.base)
        let unsigned = r.map { p.zigzag ? Zigzag.encode($0 &- p.base) : UInt64(bitPattern: $0 &- p.base) }
        writer.packed(unsigned, width: p.width)
        var exceptions: [(index: Int, high: UInt64)] = []
        if p.width < 64 {
            for (i, u) in unsigned.enumerated() where u >> UInt64(p.width) != 0 { exceptions.append((i, u >> UInt64(p.width))) }
        }
        writer.varint(exceptions.count)
        var next = 0
        for e in exceptions {
            writer.varint(e.index - next)
            writer.varint(e.high)
            next = e.index + 1
        }
    }

    /// Writes the cheapest of `candidates` and returns it.
    @discardableResult
    static func writeBest(_ values: [Int64], candidates: [IntegerPredictor], context: PredictionContext,
                          into writer: inout ByteWriter) -> IntegerPredictor {
        var best = candidates[0]
        var bestCost = Int.max
        for candidate in candidates {
            let cost = packing(of: residuals(values, candidate, context)).costBits
            if cost < bestCost {
                best = candidate
                bestCost = cost
            }
        }
        write(values, predictor: best, context: context, into: &writer)
        return best
    }

    // MARK: Decoding

    /// Reads `count` integers written by `write`. References may only point before `context.position`.
    static func read(count: Int, context: PredictionContext, from reader: inout ByteReader) throws(WireFormatError) -> [Int64] {
        let tagOffset = reader.offset
        let tag = try reader.u8("predictor")
        var predictor: IntegerPredictor
        switch tag {
        case 0: predictor = .none
        case 1: predictor = .previous
        case 2:
            guard context.meters != nil else { throw WireFormatError("predictor 2 (same meter) not allowed here", at: tagOffset) }
            predictor = .sameMeter
        case 3:
            guard let position = context.position else {
                throw WireFormatError("predictor 3 (references) not allowed here", at: tagOffset)
            }
            let n = try reader.u8("reference count")
            guard (1...3).contains(n) else { throw WireFormatError("reference count \(n) not in 1…3", at: reader.offset - 1) }
            var refs: [ColumnReference] = []
            for _ in 0..<n {
                let p = try reader.count("reference position", atMost: position - 1)
                let sign = try reader.u8("reference sign")
                guard sign <= 1 else { throw WireFormatError("reference sign \(sign) is not 0 or 1", at: reader.offset - 1) }
                refs.append(ColumnReference(position: p, negated: sign == 1))
            }
            predictor = .references(refs)
        default:
            throw WireFormatError("unknown predictor \(tag)", at: tagOffset)
        }
        let shape = try reader.u8("packing shape")
        let zigzag = shape & 0x80 != 0
        let width = Int(shape & 0x7F)
        guard width <= 64 else { throw WireFormatError("bit width \(width) exceeds 64", at: reader.offset - 1) }
        let base = try reader.svarint("base")
        var unsigned = try reader.packed(count: count, width: width, "residuals")
        let exceptionCount = try reader.count("exception count", atMost: count)
        if exceptionCount > 0 && width == 64 { throw reader.error("exceptions with bit width 64") }
        var index = 0
        for _ in 0..<exceptionCount {
            let gap = try reader.count("exception gap", atMost: count - 1 - index)
            index += gap
            let high = try reader.varint("exception high bits")
            unsigned[index] |= high << UInt64(width)
            index += 1
        }
        var values = [Int64](repeating: 0, count: count)
        for i in 0..<count {
            values[i] = (zigzag ? Zigzag.decode(unsigned[i]) : Int64(bitPattern: unsigned[i])) &+ base
        }
        try undoPrediction(&values, predictor, context)
        return values
    }

    private static func undoPrediction(_ values: inout [Int64], _ predictor: IntegerPredictor,
                                       _ context: PredictionContext) throws(WireFormatError) {
        switch predictor {
        case .none:
            return
        case .previous:
            var previous: Int64 = 0
            for i in values.indices {
                values[i] = values[i] &+ previous
                previous = values[i]
            }
        case .sameMeter:
            let meters = context.meters ?? []
            var last = [Int64?](repeating: nil, count: context.meterCount)
            var previous: Int64 = 0
            for i in values.indices {
                let m = meters[i]
                values[i] = values[i] &+ (last[m] ?? previous)
                last[m] = values[i]
                previous = values[i]
            }
        case .references(let refs):
            for ref in refs {
                let column = context.referenced(ref.position)
                for i in values.indices {
                    values[i] = ref.negated ? values[i] &- column[i] : values[i] &+ column[i]
                }
            }
        }
    }
}
