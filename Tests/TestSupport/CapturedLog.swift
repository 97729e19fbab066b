import Logging
import Platform

/// Collects log lines so tests can check that a failure logs exactly one clear line, or that a
/// fault does not turn into a log storm.
public final class CapturedLog: Sendable {
    private let storage = Locked<[(Logger.Level, String)]>([])

    public init() {}

    public var lines: [(level: Logger.Level, message: String)] { storage.value.map { ($0.0, $0.1) } }
    public var errors: [String] { lines.filter { $0.level >= .error }.map(\.message) }
    public var count: Int { storage.value.count }

    public func append(_ level: Logger.Level, _ message: String) { storage.withLock { $0.append((level, message)) } }

    public var logger: Logger { Logger(label: "archive") { _ in CapturingHandler(log: self) } }
}

/// A log handler that hands every line to a `CapturedLog`.
public struct CapturingHandler: LogHandler {
    let log: CapturedLog
    public var logLevel: Logger.Level = .trace
    public var metadata: Logger.Metadata = [:]

    public init(log: CapturedLog) { self.log = log }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) { log.append(event.level, event.message.description) }
}
