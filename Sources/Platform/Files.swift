#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConcentratorCore

/// Small, explicit file helpers: whole-file reads, durable atomic writes, directories with modes.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The permission bits of `path`, or nil if it does not exist.
    public static func mode(_ path: String) -> mode_t? {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
    }

    /// The most `readBytes` reads unless told otherwise: far above any configuration, board file,
    /// profile or key document, far below what would hurt the agent.
    public static let defaultReadLimit = 16 << 20

    /// Reads a whole regular file of at most `maximumBytes`. The file is opened non-blocking and must be
    /// a regular file, so a FIFO, a device (`/dev/zero`) or a directory named in a configuration is
    /// refused at once instead of blocking or being read without end (issue 17 #8).
    public static func readBytes(_ path: String, maximumBytes: Int = defaultReadLimit) throws(FileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw FileError(path: path, operation: "open") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileError(path: path, operation: "read") }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw FileError(path: path, operation: "read", errnoCode: EINVAL,
                            problem: "not a regular file (\(fileKind(st.st_mode))); name a regular file")
        }
        if Int(st.st_size) > maximumBytes {
            throw FileError(path: path, operation: "read", errnoCode: EFBIG,
                            problem: "larger than \(maximumBytes) bytes (\(st.st_size) bytes); name the right file")
        }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, operation: "read")
            }
            if n == 0 { break }
            // Files that grow while being read (or report no size, like /proc) are capped too.
            guard out.count + n <= maximumBytes else {
                throw FileError(path: path, operation: "read", errnoCode: EFBIG,
                                problem: "larger than \(maximumBytes) bytes; name the right file")
            }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }

    private static func fileKind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFDIR: return "a directory"
        case S_IFSOCK: return "a socket"
        default: return "not a plain file"
        }
    }

    /// Reads a whole regular file as UTF-8 text. Invalid UTF-8 is refused, naming the line, never
    /// silently replaced (issue 17 #11).
    public static func readText(_ path: String) throws(FileError) -> String {
        switch UTF8Text.decode(try readBytes(path)) {
        case .success(let text): return text
        case .failure(let invalid): throw FileError(path: path, operation: "read", errnoCode: EILSEQ, problem: invalid.description)
        }
    }

    /// Writes `bytes` to `path` durably and atomically: temp file, fsync, rename, fsync directory.
    /// A power cut leaves either the old or the new content, never a mix.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(FileError) {
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError(path: temp, operation: "create") }
        do { try FileDescriptor.writeAll(fd, bytes) } catch {
            close(fd)
            unlink(temp)
            throw FileError(path: temp, operation: "write", errnoCode: error.errnoCode)
        }
        fchmod(fd, mode)
        guard fsync(fd) == 0 else {
            let e = FileError(path: temp, operation: "fsync")
            close(fd)
            unlink(temp)
            throw e
        }
        close(fd)
        guard Glibc.rename(temp, path) == 0 else {
            let e = FileError(path: path, operation: "rename into place")
            unlink(temp)
            throw e
        }
        syncDirectory(of: path)
    }

    public static func writeAtomically(_ text: String, to path: String, mode: mode_t = 0o644) throws(FileError) {
        try writeAtomically(Array(text.utf8), to: path, mode: mode)
    }

    /// fsyncs the directory holding `path`, so a rename or create survives a power cut.
    public static func syncDirectory(of path: String) {
        let dir = directoryName(path)
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Creates `path` and its parents; sets `mode` on the directories it creates.
    public static func createDirectory(_ path: String, mode: mode_t = 0o755) throws(FileError) {
        if isDirectory(path) { return }
        let parent = directoryName(path)
        if parent != path, !parent.isEmpty, !isDirectory(parent) { try createDirectory(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST { throw FileError(path: path, operation: "create directory") }
        chmod(path, mode)
    }

    public static func remove(_ path: String) { unlink(path) }

    public static func rename(_ from: String, to: String) throws(FileError) {
        guard Glibc.rename(from, to) == 0 else { throw FileError(path: from, operation: "rename to \(to)") }
    }

    /// Names in a directory (without "." and ".."), sorted.
    public static func list(_ path: String) throws(FileError) -> [String] {
        guard let dir = opendir(path) else { throw FileError(path: path, operation: "list") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func join(_ a: String, _ b: String) -> String {
        if b.hasPrefix("/") { return b }
        return a.hasSuffix("/") ? a + b : a + "/" + b
    }

    /// The running executable's absolute path (from /proc/self/exe).
    public static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Resolves symlinks and relative parts.
    public static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// Free bytes available to this process on the file system holding `path`.
    public static func freeBytes(at path: String) -> Int64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }

    /// Size of a file in bytes, or nil.
    public static func size(_ path: String) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }
}
