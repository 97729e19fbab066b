#if canImport(Glibc)
import Glibc
#endif

/// Termination signals handled synchronously: the main thread blocks SIGTERM, SIGINT and SIGHUP
/// before any other thread starts (threads inherit the mask), then waits for them with sigwait.
/// No async-signal-safety puzzles, and every thread sees a clean stop request.
public enum TerminationSignals {
    /// Blocks the signals in the calling thread. Call first thing in main, and only in programs that
    /// wait for them (`concentrator run` and `console`, `headend run`): any other tool must stay
    /// interruptible with Ctrl-C.
    public static func block() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        ignoreBrokenPipes()
    }

    /// A peer that disappears must not kill us with SIGPIPE; writes return EPIPE instead.
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// The `concentrator` subcommands that wait for termination signals themselves.
    public static func takesOverSignals(subcommand: String?) -> Bool {
        subcommand == "run" || subcommand == "console"
    }

    /// Waits for the next termination signal and returns its number.
    public static func wait() -> Int32 {
        var set = signalSet()
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }

    /// The signal that asks for a configuration reload (SIGHUP).
    public static let reloadSignal = SIGHUP

    /// Sends SIGTERM to this process (used to stop `wait()` from another thread).
    public static func raiseTerminate() { kill(getpid(), SIGTERM) }

    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGHUP)
        return set
    }
}

/// Restarting the program in place: the same process id, executable and arguments (the `restart`
/// command). Works with and without systemd: under `Type=notify` the service stays the same main
/// process and sends READY=1 again once it runs.
public enum ProcessRestart {
    /// Replaces the process image with `/proc/self/exe` and the original arguments. Returns only if
    /// that failed, with the reason. Call after every thread has stopped its work and every file
    /// that must be closed is closed (descriptors opened with close-on-exec vanish by themselves).
    public static func reexecute(arguments: [String] = CommandLine.arguments) -> String {
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        cArguments.append(nil)
        defer { for p in cArguments { free(p) } }
        execv("/proc/self/exe", cArguments)
        return String(cString: strerror(errno))
    }
}
