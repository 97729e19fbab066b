import ConcentratorCore
import SQLite

/// The signed reply of a command that ran, kept so that the same command received again (a resend,
/// a duplicate delivery) is answered with the same bytes instead of running twice.
public struct StoredCommandReply: Hashable, Sendable {
    public var commandID: String
    /// The head-end key that signed the command.
    public var keyID: String
    public var time: Timestamp
    /// The complete signed reply, as published.
    public var reply: [UInt8]

    public init(commandID: String, keyID: String, time: Timestamp, reply: [UInt8]) {
        self.commandID = commandID
        self.keyID = keyID
        self.time = time
        self.reply = reply
    }
}

extension ArchiveWrite where Result == Void {
    /// Stores the reply to a command, replacing an earlier one with the same id (a configuration
    /// trial that ended in a rollback replaces its first reply).
    public static func storeCommandReply(_ stored: StoredCommandReply) -> ArchiveWrite {
        ArchiveWrite("store the reply to command \(stored.commandID)") { writer in
            try writer.connection.run("""
                INSERT INTO command_replies(command_id, key_id, time, reply) VALUES (?, ?, ?, ?)
                ON CONFLICT(command_id) DO UPDATE SET key_id = excluded.key_id, time = excluded.time, reply = excluded.reply
                """, [.text(stored.commandID), .text(stored.keyID), .integer(stored.time.milliseconds), .blob(stored.reply)])
        }
    }
}

extension ArchiveReader {
    /// The stored reply to command `id`, or nil when no command with this id ran (or it was pruned).
    @available(*, noasync, message: "blocks on SQLite; from async code use ArchiveStore.read")
    public func commandReply(id: String) throws(ArchiveError) -> StoredCommandReply? {
        try locked("read the reply to command \(id)") { () throws -> StoredCommandReply? in
            try connection.withStatement("SELECT key_id, time, reply FROM command_replies WHERE command_id = ?") {
                (s: SQLiteStatement) throws -> StoredCommandReply? in
                try s.bind([.text(id)])
                guard try s.step() else { return nil }
                return StoredCommandReply(commandID: id, keyID: s.text(0), time: Timestamp(milliseconds: s.int64(1)), reply: s.blob(2))
            }
        }
    }
}
