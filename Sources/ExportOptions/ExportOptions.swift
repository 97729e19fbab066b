#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ConcentratorCore
import Platform

/// The flags every export command shares, and their checks, in one place:
/// `concentrator archive export`, `concentrator audit export` and `headend export`.
public struct ExportOptions: ParsableArguments {
    @Option(help: "Start (ISO 8601, e.g. 2026-11-01 or 2026-11-01T00:00:00Z), inclusive.") public var from: String
    @Option(help: "End (ISO 8601), exclusive.") public var to: String
    @Option(help: "csv or json.") public var format: String = "csv"
    @Option(help: "Write to this file instead of stdout (e.g. a USB stick).") public var output: String?

    public init() {}

    public func validate() throws {
        guard let start = ISO8601.parse(from) else { throw ValidationError("--from is not an ISO 8601 time: \(from)") }
        guard let end = ISO8601.parse(to) else { throw ValidationError("--to is not an ISO 8601 time: \(to)") }
        guard start < end else { throw ValidationError("--from must be before --to") }
        guard ExportFormat(rawValue: format) != nil || Self.additionalFormats.contains(format) else {
            throw ValidationError("--format must be " + (["csv", "json"] + Self.additionalFormats).joined(separator: ", "))
        }
    }

    /// Formats a front end handles itself besides csv and json (`headend export`: the CER and monthly
    /// exports). Set once at start, before the arguments are parsed; empty elsewhere.
    nonisolated(unsafe) public static var additionalFormats: [String] = []

    /// `--format` when it is one of `additionalFormats`.
    public var additionalFormat: String? { Self.additionalFormats.contains(format) ? format : nil }

    /// `--from` (checked by `validate`).
    public var start: Timestamp { ISO8601.parse(from)! }
    /// `--to` (checked by `validate`).
    public var end: Timestamp { ISO8601.parse(to)! }
    /// `--format` (checked by `validate`).
    public var exportFormat: ExportFormat { ExportFormat(rawValue: format)! }

    /// Opens `--output` (created or truncated, mode 0644), or stdout without it, runs `body` with the
    /// descriptor, then syncs and closes the file. An output that cannot be opened prints
    /// `error: cannot write …` and exits with `ExitStatus.failure`.
    public func withOutput<T>(_ body: (Int32) throws -> T) throws -> T {
        var fd: Int32 = 1
        if let output {
            fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                try? FileDescriptor.writeAll(2, "error: cannot write \(output): \(String(cString: strerror(errno)))\n")
                throw ExitCode(ExitStatus.failure)
            }
        }
        defer { if fd != 1 { fsync(fd); close(fd) } }
        return try body(fd)
    }
}

/// `--meter` and `--series`: which snapshots an export of stored values covers.
public struct SnapshotSelectionOptions: ParsableArguments {
    @Option(help: "Only this meter.") public var meter: String?
    @Option(help: "interval (the hourly archive) or profile (the short load profile).") public var series: String = "interval"

    public init() {}

    public func validate() throws {
        guard SeriesKind(rawValue: series) != nil else { throw ValidationError("--series must be interval or profile") }
    }

    /// `--meter`, if given.
    public var meterID: MeterID? { meter.map { MeterID($0) } }
    /// `--series` (checked by `validate`).
    public var seriesKind: SeriesKind { SeriesKind(rawValue: series)! }
}
