import ConcentratorCore

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

    public var query: SnapshotQuery { SnapshotQuery(device: device, meter: meter, series: series, from: from, to: to) }
}

/// What an export wrote.
public struct HeadEndExportSummary: Hashable, Sendable {
    public var snapshots: Int
    public var values: Int
    public var bytes: Int
}

/// Exports stored values, streamed in chunks of about 64 KiB. Written once for every store, over
/// `forEachSnapshot`: the same stored batches export byte-identically from SQLite and PostgreSQL.
///
/// CSV: a header line, then one line per value: `interval_start,device,meter,quantity,value,unit,quality`
/// (quality `ok`, `clock_unsynced`, `error:<code> <text>` or `missing`). JSON: one array of snapshot
/// objects (`interval_start`, `device`, `meter`, `gateway_time`, `meter_time` when known,
/// `clock_unsynced`, `values` with `quantity`, `unit`, and `value` or `error` and `error_text`).
/// Rows come in interval order, meters by name within an interval. Values print in the shortest
/// form that reads back as the same double.
extension HeadEndStore {
    public func export(_ request: HeadEndExportRequest, to sink: ([UInt8]) throws -> Void) throws(HeadEndError) -> HeadEndExportSummary {
        var summary = HeadEndExportSummary(snapshots: 0, values: 0, bytes: 0)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(80_000)
        func flush(_ force: Bool) throws {
            guard force ? !buffer.isEmpty : buffer.count >= 65_536 else { return }
            try sink(buffer)
            summary.bytes += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }
        switch request.format {
        case .csv: buffer.append(contentsOf: "interval_start,device,meter,quantity,value,unit,quality\n".utf8)
        case .json: buffer.append(contentsOf: "[".utf8)
        }
        try forEachSnapshot(request.query) { snapshot in
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
        do {
            if request.format == .json { buffer.append(contentsOf: "\n]\n".utf8) }
            try flush(true)
        } catch {
            throw HeadEndError.wrap(error)
        }
        return summary
    }
}
