import Platform
#if canImport(Glibc)
import Glibc
#endif

/// Runs a system program (timedatectl, journalctl) for the console and collects its output.
/// The child starts with no signals blocked (the console blocks SIGINT/SIGTERM/SIGHUP in every
/// thread) and stdin from /dev/null; it is killed after `timeout`.
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
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        close(writeEnd)
        guard rc == 0 else {
            close(readEnd)
            return .failure(FileError(path: path, operation: "run", errnoCode: rc))
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
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return .success(Finished(status: exitCode, output: String(decoding: output, as: UTF8.self)))
    }
}
