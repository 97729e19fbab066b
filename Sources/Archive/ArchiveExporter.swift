#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConcentratorCore
import Platform

/// What to export: snapshots with interval starts in `from..<to`, of one meter or all.
public struct ExportRequest: Hashable, Sendable {
    public var from: Timestamp
    public var to: Timestamp
    public var meter: MeterID?
    public var series: SeriesKind
    public var format: ExportFormat

    public init(from: Timestamp, to: Timestamp, meter: MeterID? = nil, series: SeriesKind = .interval,
                format: ExportFormat) {
        self.from = from
        self.to = to
        self.meter = meter
        self.series = series
        self.format = format
    }
}

/// How far an export has come, for a progress line on stderr.
public struct ExportProgress: Hashable, Sendable {
    public var snapshotsDone: Int
    /// An estimate made at the start (rows in the range, divided among meters for a one-meter export).
    public var snapshotsEstimated: Int
}

/// What an export wrote.
public struct ExportSummary: Hashable, Sendable {
    public var snapshots: Int
    /// CSV: data lines; JSON: value objects.
    public var values: Int
    public var bytes: Int
}

/// Streams archived snapshots as CSV or JSON without holding the range in memory.
public struct ArchiveExporter: Sendable {
    public let reader: ArchiveReader
    /// Snapshots between two progress callbacks.
    public var progressInterval = 1000

    public init(reader: ArchiveReader) { self.reader = reader }

    /// Writes the export through `sink` in chunks of about 64 KiB. Errors thrown by `sink` stop the
    /// export and are rethrown wrapped.
    public func export(_ request: ExportRequest, to sink: ([UInt8]) throws -> Void,
                       progress: ((ExportProgress) -> Void)? = nil) throws(ArchiveError) -> ExportSummary {
        var estimate = try reader.snapshotCount(from: request.from, to: request.to, series: request.series)
        if request.meter != nil { estimate /= max(1, try reader.meters().count) }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(80_000)
        var summary = ExportSummary(snapshots: 0, values: 0, bytes: 0)
        func flush(_ force: Bool) throws {
            guard force ? !buffer.isEmpty : buffer.count >= 65_536 else { return }
            try sink(buffer)
            summary.bytes += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }
        do {
            switch request.format {
            case .csv: buffer.append(contentsOf: "interval_start,meter,quantity,value,unit,quality\n".utf8)
            case .json: buffer.append(contentsOf: "[".utf8)
            }
            try reader.forEachSnapshot(from: request.from, to: request.to, meter: request.meter,
                                       series: request.series) { snapshot in
                switch request.format {
                case .csv: summary.values += ExportText.appendCSV(snapshot, to: &buffer)
                case .json:
                    buffer.append(contentsOf: (summary.snapshots == 0 ? "\n" : ",\n").utf8)
                    summary.values += ExportText.appendJSON(snapshot, to: &buffer)
                }
                summary.snapshots += 1
                if summary.snapshots % progressInterval == 0 {
                    progress?(ExportProgress(snapshotsDone: summary.snapshots, snapshotsEstimated: max(estimate, summary.snapshots)))
                }
                try flush(false)
            }
            if request.format == .json { buffer.append(contentsOf: "\n]\n".utf8) }
            try flush(true)
        } catch {
            throw ArchiveError.wrap(error, operation: "export \(request.format.rawValue)")
        }
        progress?(ExportProgress(snapshotsDone: summary.snapshots, snapshotsEstimated: summary.snapshots))
        return summary
    }

    /// Writes the export to an open file descriptor (a file, or stdout).
    public func export(_ request: ExportRequest, toFileDescriptor fd: Int32,
                       progress: ((ExportProgress) -> Void)? = nil) throws(ArchiveError) -> ExportSummary {
        try export(request, to: { bytes in
            do throws(FileDescriptorWriteError) { try FileDescriptor.writeAll(fd, bytes) } catch {
                throw FileError(path: "file descriptor \(fd)", operation: "write the export to", errnoCode: error.errnoCode)
            }
        }, progress: progress)
    }
}
