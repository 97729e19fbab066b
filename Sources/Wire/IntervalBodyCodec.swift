import ConcentratorCore

/// Why snapshots cannot be put into a batch body.
public enum BatchEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A quantity that has no code in `QuantityCatalog`; only catalog quantities travel.
    case unknownQuantity(QuantityID, meter: MeterID)
    /// A quantity value that carries both a value and an error, or neither.
    case invalidCell(meter: MeterID, quantity: QuantityID, intervalStart: Timestamp)
    /// A meter id or event text longer than the wire allows.
    case textTooLong(what: String, bytes: Int, maximum: Int)
    /// More rows, values or events than one batch may hold.
    case tooLarge(what: String, count: Int, maximum: Int)
    /// A batch needs at least one snapshot or event.
    case empty

    public var description: String {
        switch self {
        case .unknownQuantity(let q, let m): return "meter \(m): quantity \(q) is not in the quantity catalog"
        case .invalidCell(let m, let q, let t):
            return "meter \(m), quantity \(q), interval \(t): a value must have either a number or an error code"
        case .textTooLong(let w, let b, let m): return "\(w) is \(b) bytes; at most \(m) allowed"
        case .tooLarge(let w, let c, let m): return "\(c) \(w) in one batch; at most \(m) allowed"
        case .empty: return "a batch needs at least one entry"
        }
    }
}

/// Size limits every decoder enforces before allocating, and every encoder respects.
public enum BodyLimits {
    public static let maximumRows = 1 << 20
    public static let maximumCells = 1 << 24
    public static let maximumQuantitiesPerLayout = 1024
    public static let maximumMeterIDBytes = 255
    public static let maximumEvents = 1 << 16
    public static let maximumEventTextBytes = 1024
}

/// The columnar body of an interval (or profile) batch: the snapshots of many meters over one or
/// more intervals. Pure; round-trips every field bit for bit. Layout: Docs/mqtt-api.md, "Interval body".
public enum IntervalBodyCodec {
    /// `searchReferences: false` skips looking for earlier columns that predict a column (sums such as
    /// total = L1 + L2 + L3): a larger body, much cheaper to encode (simulated fleets in debug builds).
    /// Either body decodes the same way.
    public static func encode(_ snapshots: [MeterSnapshot], searchReferences: Bool = true) throws(BatchEncodingError) -> [UInt8] {
        guard !snapshots.isEmpty else { throw .empty }
        guard snapshots.count <= BodyLimits.maximumRows else {
            throw .tooLarge(what: "snapshots", count: snapshots.count, maximum: BodyLimits.maximumRows)
        }
        var meterIndex: [MeterID: Int] = [:]
        var meters: [MeterID] = []
        var layoutIndex: [[UInt16]: Int] = [:] // quantity codes + float32 class → layout
        var layouts: [[UInt16]] = []
        var rowMeter: [Int] = [], rowLayout: [Int] = []
        var cellCount = 0
        for s in snapshots {
            if meterIndex[s.meter] == nil {
                guard s.meter.rawValue.utf8.count <= BodyLimits.maximumMeterIDBytes else {
                    throw .textTooLong(what: "meter id", bytes: s.meter.rawValue.utf8.count, maximum: BodyLimits.maximumMeterIDBytes)
                }
                meterIndex[s.meter] = meters.count
                meters.append(s.meter)
            }
            var codes: [UInt16] = []
            for v in s.values {
                guard let def = QuantityCatalog.definition(of: v.quantity) else { throw .unknownQuantity(v.quantity, meter: s.meter) }
                guard (v.value == nil) != (v.error == nil) else {
                    throw .invalidCell(meter: s.meter, quantity: v.quantity, intervalStart: s.intervalStart)
                }
                codes.append(def.code)
            }
            guard codes.count <= BodyLimits.maximumQuantitiesPerLayout else {
                throw .tooLarge(what: "values in one snapshot", count: codes.count, maximum: BodyLimits.maximumQuantitiesPerLayout)
            }
            // Rows of float32 meters get their own copy of the layout, so that their columns do not
            // share a value representation with decimal meters (the wire allows repeated layouts).
            let key = codes + [isMostlyFloat32(s) ? 1 : 0]
            if layoutIndex[key] == nil {
                layoutIndex[key] = layouts.count
                layouts.append(codes)
            }
            rowMeter.append(meterIndex[s.meter]!)
            rowLayout.append(layoutIndex[key]!)
            cellCount += codes.count
        }
        guard cellCount <= BodyLimits.maximumCells else {
            throw .tooLarge(what: "values", count: cellCount, maximum: BodyLimits.maximumCells)
        }
        let intervals = Array(Set(snapshots.map(\.intervalStart))).sorted()
        let intervalIndex = Dictionary(uniqueKeysWithValues: intervals.enumerated().map { ($1, $0) })

        var w = ByteWriter(capacity: cellCount * 2 + 1024)
        w.varint(meters.count)
        for m in meters { w.string(m.rawValue) }
        w.varint(intervals.count)
        w.svarint(intervals[0].milliseconds)
        for i in intervals.indices.dropFirst() {
            w.varint(UInt64(bitPattern: intervals[i].milliseconds &- intervals[i - 1].milliseconds))
        }
        w.varint(layouts.count)
        for layout in layouts {
            w.varint(layout.count)
            for code in layout { w.varint(UInt64(code)) }
        }
        w.varint(snapshots.count)

        let rowContext = PredictionContext.rows(meters: rowMeter, meterCount: meters.count)
        let noMeter = PredictionContext.rows(meters: nil, meterCount: meters.count)
        let simple: [IntegerPredictor] = [.none, .previous]
        let withMeter: [IntegerPredictor] = [.none, .previous, .sameMeter]
        IntegerSequenceCodec.writeBest(rowMeter.map(Int64.init), candidates: simple, context: noMeter, into: &w)
        IntegerSequenceCodec.writeBest(snapshots.map { Int64(intervalIndex[$0.intervalStart]!) }, candidates: withMeter,
                                       context: rowContext, into: &w)
        IntegerSequenceCodec.writeBest(rowLayout.map(Int64.init), candidates: withMeter, context: rowContext, into: &w)
        IntegerSequenceCodec.writeBest(snapshots.map { $0.gatewayTime.milliseconds &- $0.intervalStart.milliseconds },
                                       candidates: withMeter, context: rowContext, into: &w)
        IntegerSequenceCodec.writeBest(snapshots.map { $0.meterTime == nil ? 0 : 1 }, candidates: simple, context: noMeter, into: &w)
        let timed = snapshots.indices.filter { snapshots[$0].meterTime != nil }
        if !timed.isEmpty {
            let context = PredictionContext.rows(meters: timed.map { rowMeter[$0] }, meterCount: meters.count)
            IntegerSequenceCodec.writeBest(timed.map { snapshots[$0].meterTime!.milliseconds &- snapshots[$0].gatewayTime.milliseconds },
                                           candidates: withMeter, context: context, into: &w)
        }
        IntegerSequenceCodec.writeBest(snapshots.map { $0.clockUnsynced ? 1 : 0 }, candidates: simple, context: noMeter, into: &w)

        var rowsByLayout = [[Int]](repeating: [], count: layouts.count)
        for row in snapshots.indices { rowsByLayout[rowLayout[row]].append(row) }
        for (layout, rows) in zip(layouts, rowsByLayout) {
            var columnIntegers: [[Int64]] = [] // per position: integer of every cell (0 for errors)
            var columnIsDecimal: [Bool] = []
            for position in layout.indices {
                let cells = rows.map { snapshots[$0].values[position] }
                let (ints, decimal) = ValueColumnCodec.write(cells, position: position, rowMeters: rows.map { rowMeter[$0] },
                                                             meterCount: meters.count, earlier: columnIntegers,
                                                             earlierIsDecimal: columnIsDecimal, searchReferences: searchReferences, into: &w)
                columnIntegers.append(ints)
                columnIsDecimal.append(decimal)
            }
        }
        return w.bytes
    }

    /// Whether most non-integer values of the snapshot are exact float32 values (a float32 meter).
    private static func isMostlyFloat32(_ s: MeterSnapshot) -> Bool {
        var fractional = 0, float32 = 0
        for v in s.values {
            guard let d = v.value, d.rounded() != d else { continue }
            fractional += 1
            if Double(Float(d)).bitPattern == d.bitPattern { float32 += 1 }
        }
        return float32 * 2 > fractional
    }

    public static func decode(_ bytes: [UInt8]) throws(WireFormatError) -> [MeterSnapshot] {
        var r = ByteReader(bytes)
        let meterCount = try r.count("meter count", atMost: BodyLimits.maximumRows)
        guard meterCount <= r.remaining else { throw r.error("meter count \(meterCount) exceeds the remaining bytes") }
        var meters: [MeterID] = []
        for _ in 0..<meterCount { meters.append(MeterID(try r.string("meter id", maximumBytes: BodyLimits.maximumMeterIDBytes))) }
        let intervalCount = try r.count("interval count", atMost: BodyLimits.maximumRows)
        guard intervalCount >= 1, intervalCount <= r.remaining else { throw r.error("interval count \(intervalCount) is invalid") }
        var intervals = [Timestamp(milliseconds: try r.svarint("first interval start"))]
        for _ in 1..<intervalCount {
            let delta = Int64(bitPattern: try r.varint("interval step"))
            intervals.append(Timestamp(milliseconds: intervals[intervals.count - 1].milliseconds &+ delta))
        }
        let layoutCount = try r.count("layout count", atMost: BodyLimits.maximumRows)
        guard layoutCount <= r.remaining else { throw r.error("layout count \(layoutCount) exceeds the remaining bytes") }
        var layouts: [[QuantityID]] = []
        for _ in 0..<layoutCount {
            let n = try r.count("layout size", atMost: BodyLimits.maximumQuantitiesPerLayout)
            var ids: [QuantityID] = []
            for _ in 0..<n {
                let at = r.offset
                let code = try r.count("quantity code", atMost: Int(UInt16.max))
                guard let def = QuantityCatalog.definition(code: UInt16(code)) else {
                    throw WireFormatError("unknown quantity code \(code)", at: at)
                }
                ids.append(def.id)
            }
            layouts.append(ids)
        }
        let rowCount = try r.count("row count", atMost: BodyLimits.maximumRows)
        let noMeter = PredictionContext.rows(meters: nil, meterCount: meterCount)
        let rowMeter = try readIndices(rowCount, below: meterCount, "meter index", noMeter, &r)
        let rowContext = PredictionContext.rows(meters: rowMeter, meterCount: meterCount)
        let rowInterval = try readIndices(rowCount, below: intervalCount, "interval index", rowContext, &r)
        let rowLayout = try readIndices(rowCount, below: layoutCount, "layout index", rowContext, &r)
        let gatewayOffsets = try IntegerSequenceCodec.read(count: rowCount, context: rowContext, from: &r)
        let hasMeterTime = try readIndices(rowCount, below: 2, "meter-time flag", noMeter, &r)
        let timed = hasMeterTime.indices.filter { hasMeterTime[$0] == 1 }
        var meterOffsets: [Int64] = []
        if !timed.isEmpty {
            let context = PredictionContext.rows(meters: timed.map { rowMeter[$0] }, meterCount: meterCount)
            meterOffsets = try IntegerSequenceCodec.read(count: timed.count, context: context, from: &r)
        }
        let unsynced = try readIndices(rowCount, below: 2, "clock-unsynced flag", noMeter, &r)

        var totalCells = 0
        for row in 0..<rowCount { totalCells += layouts[rowLayout[row]].count }
        guard totalCells <= BodyLimits.maximumCells else { throw r.error("\(totalCells) values exceed the limit") }

        var snapshots: [MeterSnapshot] = []
        snapshots.reserveCapacity(rowCount)
        var timedIndex = 0
        for row in 0..<rowCount {
            let start = intervals[rowInterval[row]]
            let gateway = Timestamp(milliseconds: start.milliseconds &+ gatewayOffsets[row])
            var meterTime: Timestamp?
            if hasMeterTime[row] == 1 {
                meterTime = Timestamp(milliseconds: gateway.milliseconds &+ meterOffsets[timedIndex])
                timedIndex += 1
            }
            snapshots.append(MeterSnapshot(meter: meters[rowMeter[row]], intervalStart: start, gatewayTime: gateway,
                                           meterTime: meterTime, clockUnsynced: unsynced[row] == 1, values: []))
        }
        var rowsByLayout = [[Int]](repeating: [], count: layoutCount)
        for row in 0..<rowCount { rowsByLayout[rowLayout[row]].append(row) }
        for (layout, rows) in zip(layouts, rowsByLayout) {
            let cellMeters = rows.map { rowMeter[$0] }
            var columnIntegers: [[Int64]] = []
            var columns: [[QuantityValue]] = []
            for (position, quantity) in layout.enumerated() {
                let (cells, ints) = try ValueColumnCodec.read(quantity: quantity, count: rows.count, position: position,
                                                              rowMeters: cellMeters, meterCount: meterCount,
                                                              earlier: columnIntegers, from: &r)
                columnIntegers.append(ints)
                columns.append(cells)
            }
            for (i, row) in rows.enumerated() {
                snapshots[row].values = columns.map { $0[i] }
            }
        }
        guard r.isAtEnd else { throw r.error("\(r.remaining) bytes after the last column") }
        return snapshots
    }

    private static func readIndices(_ count: Int, below limit: Int, _ what: String, _ context: PredictionContext,
                                     _ r: inout ByteReader) throws(WireFormatError) -> [Int] {
        let at = r.offset
        let values = try IntegerSequenceCodec.read(count: count, context: context, from: &r)
        var out = [Int](repeating: 0, count: count)
        for (i, v) in values.enumerated() {
            guard v >= 0, v < Int64(limit) else { throw WireFormatError("\(what) \(v) of row \(i) is not below \(limit)", at: at) }
            out[i] = Int(v)
        }
        return out
    }
}
