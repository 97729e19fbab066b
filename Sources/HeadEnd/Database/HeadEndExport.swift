import ConcentratorCore
import SQLite

/// What to export: one device's snapshots with interval starts in `from..<to`, of one meter or all.
public struct HeadEndExportRequest: Hashable, Sendable {
    public var device: String
    public var from: Timestamp
    public var to: Timestamp
    public var meter: MeterID?
    public var series: SeriesKind
    public var format: ExportFormat

    public init(device: String, from: Timestamp, to: Timestamp, meter: MeterID? = nil, series: SeriesKind = .interval,
                format: ExportFormat) {
        self.device = device
        self.from = from
        self.to = to
        self.meter = meter
        self.series = series
        self.format = format
    }
}

/// What an export wrote.
public struct HeadEndExportSummary: Hashable, Sendable {
    public var snapshots: Int
    public var values: Int
    public var bytes: Int
}

/// Exports stored values, streamed in chunks of about 64 KiB.
///
/// CSV: a header line, then one line per value: `interval_start,device,meter,quantity,value,unit,quality`
/// (quality `ok`, `clock_unsynced`, `error:<code> <text>` or `missing`). JSON: one array of snapshot
/// objects (`interval_start`, `device`, `meter`, `gateway_time`, `meter_time` when known,
/// `clock_unsynced`, `values` with `quantity`, `unit`, and `value` or `error` and `error_text`).
/// Rows come in interval order, meters by name within an interval. Values print in the shortest
/// form that reads back as the same double.
extension HeadEndDatabase {
    public func export(_ request: HeadEndExportRequest, to sink: ([UInt8]) throws -> Void) throws(HeadEndError) -> HeadEndExportSummary {
        let known: Int64?
        do { known = try deviceNumber(request.device) } catch { throw HeadEndError.wrap(error) }
        guard let device = known else {
            throw .invalidRequest("device \(request.device) is not known to this head-end (see: headend devices list)")
        }
        var summary = HeadEndExportSummary(snapshots: 0, values: 0, bytes: 0)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(80_000)
        func flush(_ force: Bool) throws {
            guard force ? !buffer.isEmpty : buffer.count >= 65_536 else { return }
            try sink(buffer)
            summary.bytes += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }
        var layouts: [Int64: [QuantityID]] = [:]
        var sql = """
            SELECT s.interval_start, m.name, s.layout, s.data FROM snapshots s JOIN meters m ON m.id = s.meter
            WHERE s.device = ? AND s.series = ? AND s.interval_start >= ? AND s.interval_start < ?
            """
        var values: [SQLiteValue] = [.integer(device), .integer(request.series == .interval ? 0 : 1), .integer(request.from.milliseconds),
                                     .integer(request.to.milliseconds)]
        if let meter = request.meter {
            sql += " AND m.name = ?"
            values.append(.text(meter.rawValue))
        }
        sql += " ORDER BY s.interval_start, m.name"
        do {
            switch request.format {
            case .csv: buffer.append(contentsOf: "interval_start,device,meter,quantity,value,unit,quality\n".utf8)
            case .json: buffer.append(contentsOf: "[".utf8)
            }
            try connection.withStatement(sql) { s in
                try s.bind(values)
                while try s.step() {
                    let layoutNumber = s.int64(2)
                    if layouts[layoutNumber] == nil { layouts[layoutNumber] = try layout(layoutNumber) }
                    let quantities = layouts[layoutNumber]!
                    let payload = try SnapshotCodec.decode(s.blob(3), valueCount: quantities.count)
                    let snapshot = Self.snapshot(meter: MeterID(s.text(1)), intervalStart: Timestamp(milliseconds: s.int64(0)),
                                                 quantities: quantities, payload: payload)
                    switch request.format {
                    case .csv: ExportText.appendCSV(snapshot, device: request.device, to: &buffer)
                    case .json:
                        buffer.append(contentsOf: (summary.snapshots == 0 ? "\n" : ",\n").utf8)
                        ExportText.appendJSON(snapshot, device: request.device, to: &buffer)
                    }
                    summary.snapshots += 1
                    summary.values += snapshot.values.count
                    try flush(false)
                }
            }
            if request.format == .json { buffer.append(contentsOf: "\n]\n".utf8) }
            try flush(true)
        } catch {
            throw HeadEndError.wrap(error)
        }
        return summary
    }

    private func layout(_ number: Int64) throws -> [QuantityID] {
        guard let text = try connection.queryText("SELECT quantities FROM layouts WHERE id = ?", [.integer(number)]) else {
            throw HeadEndError.other("layout \(number) is missing from \(path); the database is damaged")
        }
        return text.isEmpty ? [] : text.split(separator: ",").map { QuantityID(String($0)) }
    }

    static func snapshot(meter: MeterID, intervalStart: Timestamp, quantities: [QuantityID], payload: SnapshotRowPayload) -> MeterSnapshot {
        let gateway = Timestamp(milliseconds: intervalStart.milliseconds &+ payload.gatewayOffsetMilliseconds)
        let values = zip(quantities, payload.slots).map { quantity, slot -> QuantityValue in
            switch slot {
            case .value(let v): return QuantityValue(quantity: quantity, value: v)
            case .error(let e): return QuantityValue(quantity: quantity, error: e)
            case .missing:
                var q = QuantityValue(quantity: quantity, value: 0)
                q.value = nil
                return q
            }
        }
        return MeterSnapshot(meter: meter, intervalStart: intervalStart, gatewayTime: gateway,
                             meterTime: payload.meterTimeOffsetMilliseconds.map { Timestamp(milliseconds: gateway.milliseconds &+ $0) },
                             clockUnsynced: payload.clockUnsynced, values: values)
    }
}
