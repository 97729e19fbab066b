import ArgumentParser
import ConcentratorCore
import HeadEnd
import HeadEndWeb
import KeyFiles
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
    @Option(help: "Serve the web dashboard and /metrics on HOST:PORT (for example 127.0.0.1:8080). Accounts: headend users add.")
    var web: String?
    @Option(help: "The dashboard's database (default: dashboard.sqlite beside the head-end database).") var dashboardDatabase: String?
    @Flag(help: "Mark the dashboard's cookies Secure (when a TLS proxy serves it).") var webSecureCookies = false

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
        var settings: DashboardSettings?
        if let web {
            do { settings = try DashboardSettings.parse(web) } catch {
                Output.error("\(error)")
                throw ExitCode(ExitStatus.usage)
            }
            settings?.secureCookies = webSecureCookies
        }
        let metrics = DashboardMetrics()
        do {
            let keys = try HeadEndPrivateKeys.load(sealingKeyFiles: configuration.sealingKeyFiles, ackKeyFile: configuration.ackKeyFile)
            service = try HeadEndService(configuration: configuration, keys: keys, logger: logger)
            service.observe(metrics.observer)
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
        var dashboard: WebDashboard?
        if let settings {
            do {
                dashboard = try WebDashboard.start(settings: settings, configuration: configuration, metrics: metrics,
                                                   dashboardDatabase: dashboardDatabase, logger: logger)
            } catch {
                logger.critical("cannot start the dashboard: \(error)")
                throw ExitCode(ExitStatus.config)
            }
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
            await dashboard?.stop()
            await service.stop()
            stopped.set(true)
        }
        _ = stopped.wait()
        logger.notice("stopped: \(HeadEndCountersRendering.line(service.counters.snapshot))")
    }
}
