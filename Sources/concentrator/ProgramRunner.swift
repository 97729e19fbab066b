import Platform
#if canImport(Glibc)
import Glibc
#endif

/// Runs a system program (timedatectl, journalctl) for the console and collects its output.
/// The child starts as `ProgramSpawner` starts programs (stdin from /dev/null, no signals blocked,
/// none of the console's descriptors); it is killed after `timeout`.
enum ProgramRunner {
    /// How the program ended and what it wrote.
    struct Finished {
        var status: Int32
        /// stdout and stderr together, at most 1 MiB.
        var output: String
    }

    /// The first of `/usr/bin/<name>`, `/bin/<name>`, `/usr/sbin/<name>` that exists.
    static func find(_ name: String) -> String? {
        ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }

    static func run(_ path: String, _ arguments: [String], timeout: Duration = .seconds(20)) -> Result<Finished, FileError> {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { return .failure(FileError(path: path, operation: "create a pipe for")) }
        let (readEnd, writeEnd) = (pipeFDs[0], pipeFDs[1])
        let started = ProgramSpawner.spawn(path, arguments, output: writeEnd)
        close(writeEnd)
        let pid: pid_t
        switch started {
        case .success(let child): pid = child
        case .failure(let error):
            close(readEnd)
            return .failure(error)
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var p = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) >= 0 || errno == EINTR else { break }
            guard p.revents != 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            if output.count < 1 << 20 { output.append(contentsOf: buffer[0..<n]) }
        }
        close(readEnd)
        if ContinuousClock.now >= deadline { kill(pid, SIGKILL) }
        return .success(Finished(status: ProgramSpawner.waitForExit(pid), output: String(decoding: output, as: UTF8.self)))
    }
}
