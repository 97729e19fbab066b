import ConcentratorCore

/// One value column: the cells of one quantity (one layout position) over all rows of that layout.
/// Errors are listed first as (gap, code); the numbers follow as integers in the cheapest exact
/// representation, predicted from the previous value, the same meter's previous value, or earlier
/// columns of the same row (e.g. total = L1 + L2 + L3).
enum ValueColumnCodec {
    /// Writes the column; returns each cell's integer (0 for error cells) and whether the column's
    /// integers are decimal (so that later columns may reference them).
    static func write(_ cells: [QuantityValue], position: Int, rowMeters: [Int], meterCount: Int, earlier: [[Int64]],
                      earlierIsDecimal: [Bool], searchReferences: Bool = true, into w: inout ByteWriter) -> (integers: [Int64], isDecimal: Bool) {
        var valueCells: [Int] = []
        var values: [Double] = []
        var errors: [(cell: Int, code: UInt16)] = []
        for (i, cell) in cells.enumerated() {
            if let v = cell.value {
                valueCells.append(i)
                values.append(v)
            } else if let e = cell.error {
                errors.append((i, e.rawValue))
            }
        }
        w.varint(errors.count)
        var next = 0
        for e in errors {
            w.varint(e.cell - next)
            w.varint(UInt64(e.code))
            next = e.cell + 1
        }
        var cellIntegers = [Int64](repeating: 0, count: cells.count)
        guard !values.isEmpty else { return (cellIntegers, false) }

        let (representation, ints) = ValueRepresentation.choose(for: values)
        w.u8(representation.mode.rawValue)
        if representation.isDecimal { w.u8(UInt8(representation.decimals)) }

        var aligned: [Int: [Int64]] = [:]
        if representation.isDecimal {
            for q in 0..<position where earlierIsDecimal[q] { aligned[q] = valueCells.map { earlier[q][$0] } }
        }
        let context = PredictionContext(meters: valueCells.map { rowMeters[$0] }, meterCount: meterCount,
                                        position: position, referenced: { aligned[$0] ?? [] })
        func cost(_ p: IntegerPredictor) -> Int {
            IntegerSequenceCodec.quickCost(of: IntegerSequenceCodec.residuals(ints, p, context))
        }
        var best = IntegerPredictor.none
        var bestCost = Int.max
        for candidate in [IntegerPredictor.none, .previous, .sameMeter] {
            let c = cost(candidate)
            if c < bestCost { (best, bestCost) = (candidate, c) }
        }
        if searchReferences, !aligned.isEmpty {
            let refs = ReferenceSearch.candidates(target: ints, columns: aligned)
            for candidate in refs {
                let c = cost(.references(candidate)) + 16 * candidate.count // about two bytes per reference
                if c < bestCost { (best, bestCost) = (.references(candidate), c) }
            }
        }
        IntegerSequenceCodec.write(ints, predictor: best, context: context, into: &w)
        for (i, cell) in valueCells.enumerated() { cellIntegers[cell] = ints[i] }
        return (cellIntegers, representation.isDecimal)
    }

    /// Reads a column of `count` cells; returns the cells and their integers (0 for error cells).
    static func read(quantity: QuantityID, count: Int, position: Int, rowMeters: [Int], meterCount: Int,
                     earlier: [[Int64]], from r: inout ByteReader) throws(WireFormatError) -> ([QuantityValue], [Int64]) {
        let errorCount = try r.count("error count of \(quantity)", atMost: count)
        var isError = [Bool](repeating: false, count: count)
        var cells = [QuantityValue](repeating: QuantityValue(quantity: quantity, value: 0), count: count)
        var index = 0
        for _ in 0..<errorCount {
            index += try r.count("error gap of \(quantity)", atMost: count - 1 - index)
            let code = try r.count("error code of \(quantity)", atMost: Int(UInt16.max))
            cells[index] = QuantityValue(quantity: quantity, error: MeterErrorCode(rawValue: UInt16(code)))
            isError[index] = true
            index += 1
        }
        var cellIntegers = [Int64](repeating: 0, count: count)
        let valueCells = (0..<count).filter { !isError[$0] }
        guard !valueCells.isEmpty else { return (cells, cellIntegers) }

        let modeOffset = r.offset
        let modeByte = try r.u8("value mode of \(quantity)")
        guard let mode = ValueRepresentation.Mode(rawValue: modeByte) else {
            throw WireFormatError("unknown value mode \(modeByte) for \(quantity)", at: modeOffset)
        }
        var representation = ValueRepresentation(mode: mode, decimals: 0)
        if representation.isDecimal {
            let k = try r.u8("decimals of \(quantity)")
            guard Int(k) <= ValueRepresentation.maximumDecimals else {
                throw WireFormatError("\(k) decimals for \(quantity); at most 15", at: r.offset - 1)
            }
            representation.decimals = Int(k)
        }
        let context = PredictionContext(meters: valueCells.map { rowMeters[$0] }, meterCount: meterCount, position: position,
                                        referenced: { q in valueCells.map { earlier[q][$0] } })
        let ints = try IntegerSequenceCodec.read(count: valueCells.count, context: context, from: &r)
        for (i, cell) in valueCells.enumerated() {
            guard let v = representation.value(of: ints[i]) else {
                throw WireFormatError("integer \(ints[i]) out of range for the value mode of \(quantity)", at: modeOffset)
            }
            cells[cell] = QuantityValue(quantity: quantity, value: v)
            cellIntegers[cell] = ints[i]
        }
        return (cells, cellIntegers)
    }
}

/// Finds earlier columns whose sum or difference predicts a column: total = L1 + L2 + L3,
/// T2 = total − T1. Searches all single references and pairs, then a third reference on the best
/// pairs, scoring on at most 128 evenly spaced values with a cheap bit-length estimate.
enum ReferenceSearch {
    static let sampleSize = 128

    /// The best single, pair and triple of references (each may be absent), for exact costing by the caller.
    static func candidates(target: [Int64], columns: [Int: [Int64]]) -> [[ColumnReference]] {
        let n = target.count
        let picks = n <= sampleSize ? Array(0..<n) : (0..<sampleSize).map { $0 * n / sampleSize }
        let t = picks.map { target[$0] }
        let positions = columns.keys.sorted()
        let sampled = positions.map { q in picks.map { columns[q]![$0] } }
        var residual = [Int64](repeating: 0, count: t.count)

        func score(_ refs: [(Int, Bool)]) -> Int {
            for i in t.indices {
                var r = t[i]
                for (c, negated) in refs { r = negated ? r &+ sampled[c][i] : r &- sampled[c][i] }
                residual[i] = r
            }
            let anchor = residual[0]
            var bits = 0
            for r in residual { bits += 64 - Zigzag.encode(r &- anchor).leadingZeroBitCount }
            return bits
        }

        var single: (refs: [(Int, Bool)], score: Int) = ([], Int.max)
        var pairs: [(refs: [(Int, Bool)], score: Int)] = []
        for a in positions.indices {
            for sa in [false, true] {
                let s1 = score([(a, sa)])
                if s1 < single.score { single = ([(a, sa)], s1) }
                for b in positions.indices where b > a {
                    for sb in [false, true] { pairs.append(([(a, sa), (b, sb)], score([(a, sa), (b, sb)]))) }
                }
            }
        }
        pairs.sort { $0.score < $1.score }
        var triple: (refs: [(Int, Bool)], score: Int) = ([], Int.max)
        // Exact three-term relations (L3 = total − L1 − L2): target − pair equals ±one column on every sample.
        // Keyed by the first few samples; a hit is confirmed on all samples.
        let keyLength = min(8, t.count)
        var byPrefix: [[Int64]: [(Int, Bool)]] = [:]
        for c in positions.indices {
            byPrefix[Array(sampled[c].prefix(keyLength)), default: []].append((c, false))
            byPrefix[sampled[c].prefix(keyLength).map { 0 &- $0 }, default: []].append((c, true))
        }
        search: for pair in pairs {
            _ = score(pair.refs)
            for (c, sc) in byPrefix[Array(residual.prefix(keyLength))] ?? [] where !pair.refs.contains(where: { $0.0 == c }) {
                if residual.indices.allSatisfy({ residual[$0] == (sc ? 0 &- sampled[c][$0] : sampled[c][$0]) }) {
                    triple = (pair.refs + [(c, sc)], 0)
                    break search
                }
            }
        }
        for pair in pairs.prefix(16) {
            for c in positions.indices where !pair.refs.contains(where: { $0.0 == c }) {
                for sc in [false, true] {
                    let s3 = score(pair.refs + [(c, sc)])
                    if s3 < triple.score { triple = (pair.refs + [(c, sc)], s3) }
                }
            }
        }
        return [single.refs, pairs.first?.refs ?? [], triple.refs].filter { !$0.isEmpty }.map { refs in
            refs.map { ColumnReference(position: positions[$0.0], negated: $0.1) }.sorted { $0.position < $1.position }
        }
    }
}
