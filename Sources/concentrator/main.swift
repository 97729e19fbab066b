import ArgumentParser
import ConcentratorCore
import Platform
#if canImport(Glibc)
import Glibc
#endif

/// `concentrator`: the agent and its installer tools.
struct Concentrator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concentrator",
        abstract: "Gateway data concentrator: reads RS-485 meters, archives them, delivers sealed batches.",
        version: ConcentratorVersion.current,
        subcommands: [Run.self, Status.self, Read.self, Scan.self, ConsoleCommandLine.self, ConfigGroup.self, ArchiveGroup.self,
                      AuditGroup.self, KeysGroup.self, BoardGroup.self, UplinkGroup.self, MeshGroup.self])
}

/// Options every command that needs the configuration shares.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The configuration file.")
    var config: String = "/etc/concentrator/config.json"
}

// Only the agent (`run`) and the installer's console take over SIGINT, SIGTERM and SIGHUP (they wait
// for them with sigwait, so they must be blocked before any thread starts). Every other tool keeps
// the default actions: Ctrl-C stops `status --watch`, a scan, an export.
if TerminationSignals.takesOverSignals(subcommand: CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") }) {
    TerminationSignals.block()
    MallocArenas.limitToOne()
} else {
    TerminationSignals.ignoreBrokenPipes()
}
Concentrator.main()

/// glibc's malloc arenas for the long-running commands (`run`, `console`). By default each thread that
/// allocates gets an arena of its own (up to 8 per core), each holding on to its own free memory: with the
/// agent's dozen dedicated threads that was about 1 MB of resident heap more than one shared arena
/// (`Benchmarks/agent-footprint.sh`, Docs/benchmarks.md). The threads allocate little and rarely at the
/// same moment, so one arena's lock costs nothing measurable. Must run before any thread starts.
enum MallocArenas {
    /// `mallopt(M_ARENA_MAX, 1)`; the environment's `MALLOC_ARENA_MAX`, if set, still wins.
    static func limitToOne() {
        guard getenv("MALLOC_ARENA_MAX") == nil else { return }
        _ = glibcMallopt(-8 /* M_ARENA_MAX, <malloc.h> */, 1)
    }
}

/// glibc's `int mallopt(int param, int value)`; <malloc.h> is not part of Swift's Glibc module.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
