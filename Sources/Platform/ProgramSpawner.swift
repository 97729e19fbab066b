#if canImport(Glibc)
import Glibc
#endif

/// Starts another program with `posix_spawn`, the way a long-running service should: stdin from
/// /dev/null, stdout and stderr to one descriptor the caller owns, no signals blocked (the agent and
/// the console block SIGINT/SIGTERM/SIGHUP in every thread, and a child would inherit that mask), and
/// none of the caller's other descriptors (a child that lives on, such as a tmux server, would hold
/// sockets, serial ports and pipes open).
public enum ProgramSpawner {
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
