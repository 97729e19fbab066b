import CSQLite
import Platform

/// A failed SQLite call: the result codes, which statement failed, on which file, and what to check.
///
/// The description is one log line: `archive: disk full (SQLITE_FULL 13) in INSERT OR IGNORE INTO
/// readings on /var/lib/concentrator/archive.sqlite: database or disk is full; check: free space on
/// /var/lib/concentrator`. It never carries bound values (no secrets, no payloads).
public struct SQLiteError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The primary result code (`SQLITE_FULL` = 13, `SQLITE_BUSY` = 5, …).
    public let code: Int32
    /// The extended result code (`SQLITE_BUSY_TIMEOUT` = 773, `SQLITE_IOERR_WRITE` = 778, …).
    public let extendedCode: Int32
    /// A short name of the failing statement or call: the first words of the SQL, or "open".
    public let statement: String
    /// SQLite's own message (`sqlite3_errmsg`).
    public let message: String
    /// The database file.
    public let path: String

    public init(code: Int32, extendedCode: Int32, statement: String, message: String, path: String) {
        self.code = code
        self.extendedCode = extendedCode
        self.statement = statement
        self.message = message
        self.path = path
    }

    /// The broad reason, which decides what an operator should check.
    public enum Kind: String, Hashable, Sendable {
        /// The disk (or the archive's configured size limit) is full.
        case diskFull = "disk full"
        /// Another connection or process holds a lock on the archive.
        case locked = "archive locked"
        /// The file is not a database or its content is damaged.
        case corrupt = "archive corrupt"
        /// The process may not open, read or write the file.
        case permission = "no permission"
        /// A read or write failed at the operating-system level.
        case ioError = "I/O error"
        /// A UNIQUE, NOT NULL or CHECK rule rejected a row.
        case constraint = "constraint violated"
        /// Anything else (a bug in a statement, an API misuse, out of memory).
        case other = "SQLite error"
    }

    public var kind: Kind {
        switch code {
        case SQLITE_FULL: return .diskFull
        case SQLITE_BUSY, SQLITE_LOCKED: return .locked
        case SQLITE_CORRUPT, SQLITE_NOTADB: return .corrupt
        case SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH: return .permission
        case SQLITE_IOERR: return .ioError
        case SQLITE_CONSTRAINT: return .constraint
        default: return .other
        }
    }

    /// What the operator should check, naming the file or directory.
    public var hint: String {
        let directory = FileSystem.directoryName(path)
        switch kind {
        case .diskFull:
            return "free space on \(directory), or raise the archive size limit"
        case .locked:
            return "another process holds the archive \(path) (a second agent, or a sqlite3 shell left open)"
        case .corrupt:
            return "the archive \(path) is damaged; restart the agent to move it aside and start a fresh one"
        case .permission:
            return "owner and mode of \(directory) and \(path) (the agent's user must read and write both)"
        case .ioError:
            return "the storage device holding \(directory) (kernel log, dmesg)"
        case .constraint:
            return "the rows written by this statement (a bug: please report it)"
        case .other:
            return "the agent's version and this message (please report it)"
        }
    }

    /// The symbolic name of the primary result code, e.g. `SQLITE_FULL`.
    public var codeName: String {
        switch code {
        case SQLITE_ERROR: return "SQLITE_ERROR"
        case SQLITE_INTERNAL: return "SQLITE_INTERNAL"
        case SQLITE_PERM: return "SQLITE_PERM"
        case SQLITE_ABORT: return "SQLITE_ABORT"
        case SQLITE_BUSY: return "SQLITE_BUSY"
        case SQLITE_LOCKED: return "SQLITE_LOCKED"
        case SQLITE_NOMEM: return "SQLITE_NOMEM"
        case SQLITE_READONLY: return "SQLITE_READONLY"
        case SQLITE_INTERRUPT: return "SQLITE_INTERRUPT"
        case SQLITE_IOERR: return "SQLITE_IOERR"
        case SQLITE_CORRUPT: return "SQLITE_CORRUPT"
        case SQLITE_FULL: return "SQLITE_FULL"
        case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN"
        case SQLITE_PROTOCOL: return "SQLITE_PROTOCOL"
        case SQLITE_SCHEMA: return "SQLITE_SCHEMA"
        case SQLITE_TOOBIG: return "SQLITE_TOOBIG"
        case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT"
        case SQLITE_MISMATCH: return "SQLITE_MISMATCH"
        case SQLITE_MISUSE: return "SQLITE_MISUSE"
        case SQLITE_AUTH: return "SQLITE_AUTH"
        case SQLITE_RANGE: return "SQLITE_RANGE"
        case SQLITE_NOTADB: return "SQLITE_NOTADB"
        default: return "SQLite result \(code)"
        }
    }

    public var description: String {
        let codes = extendedCode != code ? "\(codeName) \(code), extended \(extendedCode)" : "\(codeName) \(code)"
        return "\(kind.rawValue) (\(codes)) in \(statement) on \(path): \(message); check: \(hint)"
    }

    /// A short, stable name for a statement: its first words, without values.
    static func shortName(ofSQL sql: String) -> String {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).prefix(5)
        let name = words.joined(separator: " ")
        return name.count > 60 ? String(name.prefix(60)) : name
    }
}
