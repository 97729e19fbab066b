import ConcentratorCore
import HeadEnd
import KeyFiles
import Logging
import Platform
import Wire

/// The dashboard as `headend run --web` runs it: the read model over the head-end's SQLite database,
/// the accounts and audit database, the command path (when the configuration names a command key), and
/// the server on its own task until `stop()`.
public final class WebDashboard: Sendable {
    private let task: Task<Void, Never>
    private let model: SQLiteDashboardReadModel
    private let commands: DashboardCommands?

    private init(task: Task<Void, Never>, model: SQLiteDashboardReadModel, commands: DashboardCommands?) {
        self.task = task
        self.model = model
        self.commands = commands
    }

    public static func start(settings: DashboardSettings, configuration: HeadEndConfiguration, metrics: DashboardMetrics,
                             dashboardDatabase: String?, logger: Logger) throws -> WebDashboard {
        let path = dashboardDatabase ?? DashboardDatabase.defaultPath(besideHeadEndDatabase: configuration.databasePath)
        let model = SQLiteDashboardReadModel(headEndDatabasePath: configuration.databasePath, dashboard: try DashboardDatabase.open(path: path))
        var commands: DashboardCommands?
        if let keyPath = configuration.commandKeyFile {
            commands = try DashboardCommands(configuration: configuration, key: try PrivateKeyFile.loadSigningKey(path: keyPath), model: model,
                                             logger: logger)
        } else {
            logger.warning("dashboard: no keys.command in the configuration; the device page cannot send commands")
        }
        if (try? model.accountCount()) == 0 {
            logger.warning("dashboard: no accounts yet; create one with: headend users add --name NAME --role operator")
        }
        let server = DashboardServer(settings: settings, model: model, accounts: model, metrics: metrics, commands: commands, logger: logger)
        let task = Task {
            do { try await server.run() } catch is CancellationError {} catch {
                logger.error("dashboard stopped: \(error)")
            }
        }
        return WebDashboard(task: task, model: model, commands: commands)
    }

    public func stop() async {
        task.cancel()
        _ = await task.value
        await commands?.close()
        model.close()
    }
}
