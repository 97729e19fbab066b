import ConcentratorCore
import Crypto
import Platform

/// Why the network key file cannot be used. Names the file and what to do, never the key.
public struct MeshKeyFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "mesh network key file \(path): \(problem)" }
}

/// The network key on disk: one line of 64 hex digits in a file of mode 0600 (rule 8). The console's
/// mesh screen writes it; the agent reads it at start.
public enum MeshNetworkKeyFile {
    /// Reads the key at `path` for `epoch`. Refuses a file readable by group or others.
    public static func load(path: String, epoch: UInt8) throws(MeshKeyFileError) -> MeshNetworkKey {
        guard let mode = FileSystem.mode(path) else {
            throw MeshKeyFileError(path: path, problem: "missing; set the network key on the console's mesh screen")
        }
        guard mode & 0o077 == 0 else {
            throw MeshKeyFileError(path: path, problem: "mode \(String(mode, radix: 8)) lets others read it; chmod 600 it")
        }
        let text: String
        do { text = try FileSystem.readText(path) } catch { throw MeshKeyFileError(path: path, problem: "\(error)") }
        let digits = text.filter { !$0.isWhitespace }
        guard digits.count == MeshNetworkKey.length * 2, let bytes = Hex.decode(digits) else {
            throw MeshKeyFileError(path: path, problem: "not \(MeshNetworkKey.length * 2) hex digits; set the key again on the console")
        }
        do { return try MeshNetworkKey(bytes: bytes, epoch: epoch) } catch { throw MeshKeyFileError(path: path, problem: "\(error)") }
    }

    /// Parses the installer's text (64 hex digits, spaces allowed) into key bytes.
    public static func parse(_ text: String) throws(MeshKeyError) -> [UInt8] {
        let digits = text.filter { !$0.isWhitespace }
        guard let bytes = Hex.decode(digits) else { throw .wrongLength(digits.count / 2) }
        _ = try MeshNetworkKey(bytes: bytes)
        return bytes
    }

    /// 32 random bytes from the system's generator.
    public static func generate() -> [UInt8] {
        SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }

    /// Writes `bytes` to `path` atomically with mode 0600; returns the key's fingerprint.
    @discardableResult
    public static func write(_ bytes: [UInt8], to path: String, epoch: UInt8 = 0) throws(MeshKeyFileError) -> String {
        let key: MeshNetworkKey
        do { key = try MeshNetworkKey(bytes: bytes, epoch: epoch) } catch { throw MeshKeyFileError(path: path, problem: "\(error)") }
        do { try FileSystem.writeAtomically(Hex.encode(bytes) + "\n", to: path, mode: 0o600) } catch {
            throw MeshKeyFileError(path: path, problem: "\(error)")
        }
        return key.fingerprint
    }
}
