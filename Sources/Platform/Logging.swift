#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConcentratorCore
import Logging
import Synchronization

/// One log line per event on stderr (journald adds its own timestamps; `timestamps` adds ours for
/// plain files and tests): `2026-11-21T10:00:00.123Z warning [bus] bus=bus1 meter=m3 no response`.
/// Secrets never go through here: typed errors carry context, never key material.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let timestamps: Bool
    private let clock: any WallClock

    public init(label: String, level: Logger.Level, timestamps: Bool, clock: any WallClock = SystemClock()) {
        self.label = label
        logLevel = level
        self.timestamps = timestamps
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// A line's timestamp: always with milliseconds (`…:13.000Z`), so every line has the same width.
    public static func timestamp(_ t: Timestamp) -> String { ISO8601.formatWithMilliseconds(t) }

    public func log(event: LogEvent) {
        var line = ""
        if timestamps { line += Self.timestamp(clock.now()) + " " }
        line += "\(event.level) [\(label)]"
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for key in merged.keys.sorted() { line += " \(key)=\(merged[key]!)" }
        line += " " + event.message.description + "\n"
        LogOutput.write(line)
    }

    /// Installs the handler for the whole process. Call once, early in main.
    public static func bootstrap(level: Logger.Level, timestamps: Bool = true) {
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level, timestamps: timestamps) }
    }
}

/// Serialises writes to stderr so lines from different threads never interleave.
enum LogOutput {
    private static let lock = Mutex(())

    static func write(_ line: String) {
        lock.withLock { _ in try? FileDescriptor.writeAll(2, line) }
    }
}
