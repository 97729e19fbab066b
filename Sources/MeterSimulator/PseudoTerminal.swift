#if canImport(Glibc)
import Glibc
#endif
import CPlatform
import Platform

/// Why the simulator could not start or do what it was asked.
public enum SimulatorError: Error, Hashable, Sendable, CustomStringConvertible {
    case ptyUnavailable(errnoCode: Int32)
    case linkFailed(path: String, reason: String)
    case controlSocketFailed(path: String, reason: String)
    case servedLogFailed(path: String, errnoCode: Int32)
    case invalidSetup(String)
    case noMeter(address: UInt8)

    public var description: String {
        switch self {
        case .ptyUnavailable(let e):
            return "cannot open a pseudo-terminal: \(String(cString: strerror(e))) (check that /dev/pts is mounted and /dev/ptmx is usable)"
        case .linkFailed(let path, let reason): return "cannot create the link \(path): \(reason)"
        case .controlSocketFailed(let path, let reason): return "cannot open the control socket \(path): \(reason)"
        case .servedLogFailed(let path, let e):
            return "cannot open the served log \(path): \(String(cString: strerror(e))) (check the directory exists and is writable)"
        case .invalidSetup(let what): return what
        case .noMeter(let a): return "no meter at address \(a) on this line"
        }
    }
}

/// One pseudo-terminal pair: the simulator keeps the master and also holds the slave open, so the
/// master never reports a hang-up while no client is connected. Clients open `slavePath`.
final class PseudoTerminal {
    let masterFD: Int32
    let slaveFD: Int32
    let slavePath: String

    init() throws(SimulatorError) {
        var master: Int32 = -1, slave: Int32 = -1
        var name = [CChar](repeating: 0, count: 256)
        guard cplatform_open_pty(&master, &slave, &name, name.count) == 0 else { throw .ptyUnavailable(errnoCode: errno) }
        _ = cplatform_set_nonblocking(master, 1)
        masterFD = master
        slaveFD = slave
        slavePath = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Closes both ends: clients holding the slave see I/O errors from now on.
    func close() {
        Glibc.close(masterFD)
        Glibc.close(slaveFD)
    }

    /// Reads what is waiting on the master (non-blocking).
    func readAvailable() -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(masterFD, $0.baseAddress, $0.count) }
            if n > 0 {
                out += chunk[0..<n]
                continue
            }
            if n < 0 && errno == EINTR { continue }
            return out
        }
    }

    /// Writes `bytes` to the master. When no client drains the slave and the buffer is full, the
    /// bytes are lost, as on a line nobody listens to.
    func write(_ bytes: ArraySlice<UInt8>) {
        // The master is non-blocking: a full buffer (EAGAIN) ends the write.
        try? FileDescriptor.writeAll(masterFD, Array(bytes))
    }
}

/// A stable name for the current PTY: a symbolic link replaced atomically (new link, then rename).
enum StableLink {
    /// Points `link` at `target`. Refuses to replace anything that is not a symbolic link.
    static func point(_ link: String, to target: String) throws(SimulatorError) {
        var st = stat()
        if lstat(link, &st) == 0 && (st.st_mode & S_IFMT) != S_IFLNK {
            throw .linkFailed(path: link, reason: "it exists and is not a symbolic link (remove it or choose another path)")
        }
        do {
            try FileSystem.createDirectory(FileSystem.directoryName(link))
        } catch {
            throw .linkFailed(path: link, reason: error.description)
        }
        let temp = link + ".new-\(getpid())"
        unlink(temp)
        guard symlink(target, temp) == 0 else {
            throw .linkFailed(path: link, reason: String(cString: strerror(errno)))
        }
        guard rename(temp, link) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw .linkFailed(path: link, reason: reason)
        }
    }

    /// Removes `link` if it is a symbolic link.
    static func remove(_ link: String) {
        var st = stat()
        if lstat(link, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK { unlink(link) }
    }
}
