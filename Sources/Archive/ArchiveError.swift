import ConcentratorCore
import Platform
import SQLite

/// Why an archive operation failed. Each description is one log line that says what failed, where,
/// and what to check. None carries reading values, payloads or key material.
public enum ArchiveError: Error, Hashable, Sendable, CustomStringConvertible {
    /// SQLite refused; `operation` says what the archive was doing ("commit bus1 interval …").
    case sqlite(SQLiteError, operation: String)
    /// A stored row could not be decoded (the file was damaged behind SQLite's back).
    case corruptRow(key: Int64, path: String, reason: SnapshotCodecError)
    /// The file was written by a newer agent with a schema this build does not know.
    case schemaTooNew(found: Int32, supported: Int32, path: String)
    /// The caller passed something the archive cannot store.
    case invalidInput(String)
    /// A file operation around the database failed (creating the directory, moving a corrupt file).
    case file(FileError)

    public var description: String {
        switch self {
        case .sqlite(let e, let operation):
            return "archive: \(operation) failed: \(e)"
        case .corruptRow(let key, let path, let reason):
            return "archive: row \(key) in \(path) is unreadable: \(reason); check: the storage device; "
                + "restart the agent to run an integrity check"
        case .schemaTooNew(let found, let supported, let path):
            return "archive: \(path) has schema version \(found) but this agent knows up to \(supported); "
                + "check: the agent was downgraded; install the newer agent or move the archive aside"
        case .invalidInput(let what):
            return "archive: \(what)"
        case .file(let e):
            return "archive: \(e); check: owner, mode and free space of that directory"
        }
    }

    /// The SQLite error, if this is one.
    public var sqliteError: SQLiteError? {
        if case .sqlite(let e, _) = self { return e }
        return nil
    }

    /// Wraps any error thrown inside an archive operation.
    static func wrap(_ error: any Error, operation: String) -> ArchiveError {
        switch error {
        case let e as ArchiveError: return e
        case let e as SQLiteError: return .sqlite(e, operation: operation)
        case let e as FileError: return .file(e)
        default: return .invalidInput("\(operation): \(error)")
        }
    }
}
