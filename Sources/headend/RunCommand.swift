import ArgumentParser
import ConcentratorCore
import HeadEnd
import Logging
import Platform
#if canImport(Glibc)
import Glibc
#endif

/// `headend run --config FILE`: the head-end itself, until SIGTERM or SIGINT.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the head-end until SIGTERM.")

    @Option(help: "The head-end configuration.") var config: String = HeadEndConfiguration.defaultPath
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"
    @Option(help: "The database instead of the configuration's: a SQLite file, or a postgresql:// URL shared by several workers.")
    var database: String?

    func run() throws {
        var configuration = try loadConfigurationOrExit(config)
        if let database {
            switch try parseDatabaseSetting(database) {
            case .sqlite(let path): configuration.databasePath = path
            case .postgres(let url): configuration.databasePath = url
            }
        }
        LineLogHandler.bootstrap(level: Logger.Level(rawValue: logLevel) ?? .info,
                                 timestamps: getenv("JOURNAL_STREAM") == nil)
        let logger = Logger(label: "headend")
        let service: HeadEndService
        do {
            let keys = try HeadEndPrivateKeys.load(sealingKeyFiles: configuration.sealingKeyFiles, ackKeyFile: configuration.ackKeyFile)
            service = try HeadEndService(configuration: configuration, keys: keys, logger: logger)
        } catch {
            Output.error("\(error)")
            Output.error("the head-end will not start with this configuration (exit \(ExitStatus.config))")
            throw ExitCode(ExitStatus.config)
        }
        let started = OneShot<Result<Void, HeadEndError>>()
        Task {
            do throws(HeadEndError) { try await service.start(); started.set(.success(())) } catch { started.set(.failure(error)) }
        }
        if case .failure(let error) = started.wait() {
            logger.critical("cannot start: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
        while true {
            let signal = TerminationSignals.wait()
            if signal == TerminationSignals.reloadSignal {
                logger.info("SIGHUP: nothing to reload (the device registry is re-read by itself)")
                continue
            }
            logger.notice("\(TerminationSignals.name(signal)): stopping")
            break
        }
        let stopped = OneShot<Bool>()
        Task {
            await service.stop()
            stopped.set(true)
        }
        _ = stopped.wait()
        logger.notice("stopped: \(HeadEndCountersRendering.line(service.counters.snapshot))")
    }
}
