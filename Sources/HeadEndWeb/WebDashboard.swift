import ConcentratorCore
import HeadEnd
import KeyFiles
import Logging
import Platform
import Wire

/// The dashboard as `headend run --web` runs it: the read model over the head-end's store (SQLite:
/// `SQLiteDashboardReadModel`; PostgreSQL: `StoreDashboardReadModel`), the accounts and audit database,
/// the command path (when the configuration names a command key), and the server on its own task until `stop()`.
public final class WebDashboard: Sendable {
    private let task: Task<Void, Never>
    private let closeModel: @Sendable () async -> Void
    private let commands: DashboardCommands?

    private init(task: Task<Void, Never>, closeModel: @escaping @Sendable () async -> Void, commands: DashboardCommands?) {
        self.task = task
        self.closeModel = closeModel
        self.commands = commands
    }

    /// Blocks while the stores open: call it from start-up code.
    @available(*, noasync)
    public static func start(settings: DashboardSettings, configuration: HeadEndConfiguration, metrics: DashboardMetrics,
                             dashboardDatabase: String?, logger: Logger) throws -> WebDashboard {
        let location = configuration.databaseLocation
        let path = try dashboardDatabase ?? DashboardDatabase.defaultPath(for: location)
        let model: any DashboardReadModel & DashboardAccountStore
        let accounts: () throws -> Int
        let closeModel: @Sendable () async -> Void
        switch location {
        case .sqlite(let headEndPath):
            let sqlite = SQLiteDashboardReadModel(headEndDatabasePath: headEndPath, dashboard: try DashboardDatabase.open(path: path))
            (model, accounts, closeModel) = (sqlite, sqlite.accountCount, { sqlite.close() })
        case .postgres:
            let worker = try HeadEndStoreWorker(name: "dashboard-store") { () throws(HeadEndError) -> any HeadEndStore in
                try HeadEndStores.openForReading(location)
            }
            let store = StoreDashboardReadModel(store: worker, dashboard: try DashboardDatabase.open(path: path))
            (model, accounts, closeModel) = (store, store.accountCount, { await store.close() })
        }
        var commands: DashboardCommands?
        if let keyPath = configuration.commandKeyFile {
            commands = try DashboardCommands(configuration: configuration, key: try PrivateKeyFile.loadSigningKey(path: keyPath), model: model,
                                             logger: logger)
        } else {
            logger.warning("dashboard: no keys.command in the configuration; the device page cannot send commands")
        }
        if (try? accounts()) == 0 {
            logger.warning("dashboard: no accounts yet; create one with: headend users add --name NAME --role operator")
        }
        let server = DashboardServer(settings: settings, model: model, accounts: model, metrics: metrics, commands: commands, logger: logger)
        let task = Task {
            do { try await server.run() } catch is CancellationError {} catch {
                logger.error("dashboard stopped: \(error)")
            }
        }
        return WebDashboard(task: task, closeModel: closeModel, commands: commands)
    }

    public func stop() async {
        task.cancel()
        _ = await task.value
        await commands?.close()
        await closeModel()
    }
}
