#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore

/// Starts another program with `posix_spawn`, the way a long-running service should: stdin from
/// /dev/null, stdout and stderr to one descriptor the caller owns, no signals blocked (the agent and
/// the console block SIGINT/SIGTERM/SIGHUP in every thread, and a child would inherit that mask), and
/// none of the caller's other descriptors (a child that lives on, such as a tmux server, would hold
/// sockets, serial ports and pipes open).
public enum ProgramSpawner {
    /// The first of `/usr/bin/<name>`, `/bin/<name>`, `/usr/sbin/<name>`, `/sbin/<name>` that is executable.
    public static func find(_ name: String) -> String? {
        ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }

    /// Starts `path` with `arguments` (without argv[0]) and the caller's environment; `output`
    /// becomes the child's stdout and stderr. Returns the child's pid; reap it with `waitForExit`.
    public static func spawn(_ path: String, _ arguments: [String], output: Int32) -> Result<pid_t, FileError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        for descriptor in openDescriptors() where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
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
        guard rc == 0 else { return .failure(FileError(path: path, operation: "run", errnoCode: rc)) }
        return .success(pid)
    }

    /// How a program run by `run` ended and what it wrote.
    public struct Finished: Sendable {
        /// Its exit status, or 128 + the signal that ended it.
        public var status: Int32
        /// stdout and stderr together, at most 1 MiB.
        public var output: String
    }

    /// Runs `path` to its end and collects what it writes; kills it after `timeout`.
    public static func run(_ path: String, _ arguments: [String], timeout: Duration = .seconds(20)) -> Result<Finished, FileError> {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return .failure(FileError(path: path, operation: "create a pipe for")) }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let started = spawn(path, arguments, output: writeEnd)
        close(writeEnd)
        defer { close(readEnd) }
        let pid: pid_t
        switch started {
        case .success(let child): pid = child
        case .failure(let error): return .failure(error)
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
        if ContinuousClock.now >= deadline { kill(pid, SIGKILL) }
        return .success(Finished(status: waitForExit(pid), output: String(decoding: output, as: UTF8.self)))
    }

    /// Waits for `pid` to end: its exit status, or 128 + the signal that killed it (as a shell says).
    public static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// The descriptors open in this process now.
    static func openDescriptors() -> [Int32] {
        let names = (try? FileSystem.list("/proc/self/fd")) ?? []
        return names.compactMap { Int32($0) }.filter { fcntl($0, F_GETFD) >= 0 }
    }
}
