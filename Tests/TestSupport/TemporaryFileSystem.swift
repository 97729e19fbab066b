import Foundation
import Platform

/// A tmpfs mounted by the test (root only) and unmounted when released.
public final class TemporaryFileSystem: @unchecked Sendable {
    public let path: String

    /// Mounts a tmpfs of `bytes` at `path` (created). Throws when mounting is not permitted.
    public init(at path: String, bytes: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let r = try runCommand(try findProgram("mount"), ["-t", "tmpfs", "-o", "size=\(bytes),mode=0700", "tmpfs", path])
        guard r.status == 0 else { throw HarnessError("cannot mount a tmpfs at \(path): \(r.stderr)") }
    }

    deinit { _ = try? runCommand(try findProgram("umount"), ["-l", path]) }

    /// Whether this process may mount file systems (root with CAP_SYS_ADMIN).
    public static let mountingPermitted: Bool = {
        guard geteuid() == 0 else { return false }
        let dir = TemporaryDirectory("mount-probe")
        return (try? TemporaryFileSystem(at: dir.file("m"), bytes: 1 << 20)) != nil
    }()

    public var freeBytes: Int64 { FileSystem.freeBytes(at: path) ?? -1 }

    /// Fills the file system with `name` until it refuses another byte; returns the bytes written.
    @discardableResult
    public func fill(_ name: String) -> Int {
        let fd = open(path + "/" + name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var total = 0
        for chunk in [1 << 20, 64 << 10, 4096, 512, 1] {
            let bytes = [UInt8](repeating: 0x5A, count: chunk)
            while bytes.withUnsafeBytes({ write(fd, $0.baseAddress, chunk) }) == chunk { total += chunk }
        }
        return total
    }

    /// Gives back `bytes` of the filler `name` (or all of it with nil).
    public func free(_ name: String, bytes: Int? = nil) {
        let file = path + "/" + name
        guard let bytes, let size = FileSystem.size(file) else {
            unlink(file)
            return
        }
        _ = truncate(file, Int(max(0, size - Int64(bytes))))
    }
}
