import ConcentratorCore
import MQTT
import Platform
import PostgreSQL
import SQLite
import Wire

/// Why a head-end operation failed: what, where, and what to check. Never carries a secret or key bytes.
public enum HeadEndError: Error, Sendable, CustomStringConvertible {
    /// A private or public key file could not be used.
    case keyFile(KeyFileError)
    /// A password or pre-shared key file could not be used.
    case secretFile(path: String, problem: String)
    /// The database failed; the SQLite error names the statement, the file and what to check.
    case database(SQLiteError)
    /// The PostgreSQL database failed; the error names the statement, the database and what to check.
    case postgres(PostgresError)
    /// The database was written by a newer head-end.
    case schemaTooNew(found: Int32, supported: Int32, path: String)
    /// A request that cannot be carried out as given (an unknown device, a key for another device).
    case invalidRequest(String)
    /// The MQTT client refused its settings or an operation.
    case mqtt(MQTTError)
    /// Any other failure, already described.
    case other(String)

    public var description: String {
        switch self {
        case .keyFile(let e): return "\(e)"
        case .secretFile(let path, let problem): return "\(path): \(problem)"
        case .database(let e): return "\(e)"
        case .postgres(let e): return "\(e)"
        case .schemaTooNew(let found, let supported, let path):
            return "\(path) has schema version \(found), but this head-end knows versions up to \(supported); run a newer headend"
        case .invalidRequest(let what): return what
        case .mqtt(let e): return "\(e)"
        case .other(let what): return what
        }
    }

    /// A device the store has never heard of (a query for it, an export).
    static func unknownDevice(_ name: String) -> HeadEndError {
        .invalidRequest("device \(name) is not known to this head-end (see: headend devices list)")
    }

    /// Wraps any error thrown by SQLite helpers (which throw untyped).
    static func wrap(_ error: any Error) -> HeadEndError {
        switch error {
        case let e as HeadEndError: return e
        case let e as SQLiteError: return .database(e)
        case let e as PostgresError: return .postgres(e)
        case let e as SchemaTooNew: return .schemaTooNew(found: e.found, supported: e.supported, path: e.path)
        case let e as KeyFileError: return .keyFile(e)
        default: return .other("\(error)")
        }
    }
}
