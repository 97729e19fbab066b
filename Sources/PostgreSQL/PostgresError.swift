/// A failed PostgreSQL call: the SQLSTATE when the server sent one, which statement failed, where,
/// and what to check. The description is one log line; it never carries bound values or the password.
public struct PostgresError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The five-character SQLSTATE (`23505` unique violation, `40P01` deadlock, `57P01` shutdown, …);
    /// nil for client-side failures (no connection, a lost connection).
    public let sqlState: String?
    /// A short name of the failing statement or call: the first words of the SQL, or "connect".
    public let statement: String
    /// The server's or libpq's message, first line.
    public let message: String
    /// The database, as a URL without its password.
    public let location: String
    /// True when the connection is gone (the server restarted, the network failed): the caller
    /// reconnects and may try again; nothing in the failed transaction was committed.
    public let connectionLost: Bool

    public init(sqlState: String?, statement: String, message: String, location: String, connectionLost: Bool) {
        self.sqlState = sqlState
        self.statement = statement
        self.message = message
        self.location = location
        self.connectionLost = connectionLost
    }

    public static let uniqueViolation = "23505"
    public static let deadlockDetected = "40P01"
    public static let serializationFailure = "40001"

    public var description: String {
        var text = "PostgreSQL \(statement) on \(location) failed"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        text += ": \(message)"
        if let hint { text += "; check: \(hint)" }
        return text
    }

    /// What an operator should check, by the broad reason.
    var hint: String? {
        if connectionLost { return "the server is running and reachable; the head-end reconnects by itself" }
        switch sqlState?.prefix(2) {
        case "28": return "the user name and password (passfile) in the database URL, and pg_hba.conf"
        case "3D": return "the database named in the URL exists (createdb)"
        case "42": return "the schema: this head-end's version and the database's (headend run migrates it)"
        case "53": return "the server's disk space and connection limit"
        case "57": return "the server is being shut down or restarted; the head-end reconnects by itself"
        default: return nil
        }
    }

    /// A short name of `sql`: its first three words.
    static func shortName(ofSQL sql: String) -> String {
        sql.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(3).joined(separator: " ")
    }
}
