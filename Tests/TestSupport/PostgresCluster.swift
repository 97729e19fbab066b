import Foundation
import Platform

/// A failure to prepare or run the test PostgreSQL cluster, with the server's log tail when there is one.
public struct PostgresClusterError: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) { self.description = description }
}

/// A throwaway PostgreSQL cluster for tests (Debian's `postgresql` package): `initdb` and `pg_ctl` in a
/// temporary directory, listening on 127.0.0.1 at a random free port and on a unix socket in that
/// directory, with trust authentication for the `postgres` superuser (loopback only).
///
/// PostgreSQL refuses to run as root. As root (CI), the cluster runs as the system user `postgres`
/// (created by the package) or, without it, `nobody`, through `runuser`; the directory is given to
/// that user. A watchdog shell stops the cluster and removes the directory when the test process
/// ends, even if it is killed, so no server outlives the tests. Scripts use `scripts/lib/postgres.sh`.
public final class PostgresCluster: @unchecked Sendable {
    public let directory: String
    public let port: UInt16
    /// Where `initdb`, `pg_ctl`, `postgres`, `psql` and `createdb` are.
    public let binDirectory: String
    /// The user the server runs as when the tests run as root; nil otherwise.
    public let runAsUser: String?
    private let keepFile: String
    private let lock = NSLock()
    private var databases = 0

    /// The database directory.
    public var dataDirectory: String { directory + "/data" }
    /// The server log.
    public var logFile: String { directory + "/server.log" }
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Creates and starts a cluster. `settings` are extra `postgresql.conf` lines (`fsync = off` for
    /// speed where a test does not need durability across a machine crash).
    public init(settings: [String: String] = ["fsync": "off", "full_page_writes": "off"]) throws {
        binDirectory = try Self.findBinaries()
        runAsUser = geteuid() == 0 ? Self.unprivilegedUser() : nil
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/pg-cluster-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw PostgresClusterError(description: "cannot create a directory under \(base)")
        }
        directory = String(cString: template)
        keepFile = directory + "/.keep"
        port = freeLoopbackPort()
        FileManager.default.createFile(atPath: keepFile, contents: nil)
        if let user = runAsUser {
            try Self.check(try runCommand("/bin/chown", ["-R", user, directory], timeout: .seconds(30)), "chown \(user) \(directory)")
        }
        try runAsServerUser(binDirectory + "/initdb", ["-D", dataDirectory, "-U", "postgres", "--auth=trust", "--no-sync",
                                                       "-E", "UTF8", "--locale=C"], "initdb")
        var conf = ["listen_addresses = '127.0.0.1'", "port = \(port)", "unix_socket_directories = '\(directory)'",
                    "max_connections = 60", "logging_collector = off"]
        conf += settings.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }
        let confFile = dataDirectory + "/postgresql.auto.conf"
        let existing = (try? String(contentsOfFile: confFile, encoding: .utf8)) ?? ""
        try (existing + conf.joined(separator: "\n") + "\n").write(toFile: confFile, atomically: false, encoding: .utf8)
        try startWatchdog()
        try start()
    }

    deinit {
        try? FileManager.default.removeItem(atPath: keepFile)
        _ = try? runAsServerUser(binDirectory + "/pg_ctl", ["-D", dataDirectory, "stop", "-m", "immediate", "-w", "-t", "20"], "pg_ctl stop")
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `postgresql://postgres@127.0.0.1:<port>/<database>`.
    public func url(database: String) -> String { "postgresql://postgres@127.0.0.1:\(port)/\(database)" }

    /// Creates a new, empty database and returns its URL.
    public func createDatabase(_ name: String? = nil) throws -> String {
        let database = name ?? lock.withLock { () -> String in
            databases += 1
            return "test_\(databases)"
        }
        try Self.check(try runCommand(binDirectory + "/createdb", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", database],
                                      timeout: .seconds(60)), "createdb \(database)")
        return url(database: database)
    }

    /// Runs one SQL statement with psql and returns its unaligned output.
    public func psql(_ database: String, _ sql: String) throws -> String {
        let result = try runCommand(binDirectory + "/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", database,
                                                             "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], timeout: .seconds(60))
        try Self.check(result, "psql")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts the server and waits until it accepts connections.
    public func start() throws {
        try runAsServerUser(binDirectory + "/pg_ctl", ["-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "start"], "pg_ctl start")
    }

    /// Stops the server: `fast` (clients are disconnected, a clean shutdown) or `immediate` (like a crash).
    public func stop(mode: String = "fast") throws {
        try runAsServerUser(binDirectory + "/pg_ctl", ["-D", dataDirectory, "stop", "-m", mode, "-w", "-t", "60"], "pg_ctl stop")
    }

    /// Stops and starts the server on the same port.
    public func restart(mode: String = "fast") throws {
        try stop(mode: mode)
        try start()
    }

    /// One shared cluster per test process (databases are cheap: each test creates its own).
    public static func shared() async throws -> PostgresCluster {
        let task = sharedLock.withLock { () -> Task<PostgresCluster, any Error> in
            if let existing = sharedTask { return existing }
            let task = Task { try await runOnDedicatedThread { try PostgresCluster() } }
            sharedTask = task
            return task
        }
        return try await task.value
    }

    private static let sharedLock = NSLock()
    nonisolated(unsafe) private static var sharedTask: Task<PostgresCluster, any Error>?

    // MARK: - Plumbing

    /// Runs a server program (as the unprivileged user when we are root) with `ProgramSpawner`:
    /// Foundation's `Process` did not notice the end of `runuser` here (the tests hung in
    /// `waitUntilExit` with `runuser` a zombie), `posix_spawn` and `waitpid` do.
    @discardableResult
    private func runAsServerUser(_ program: String, _ arguments: [String], _ what: String) throws -> String {
        let path = runAsUser == nil ? program : "/usr/sbin/runuser"
        let fullArguments = runAsUser.map { ["-u", $0, "--", program] + arguments } ?? arguments
        let finished: ProgramSpawner.Finished
        switch ProgramSpawner.run(path, fullArguments, timeout: .seconds(120)) {
        case .success(let result): finished = result
        case .failure(let error): throw PostgresClusterError(description: "\(what) could not start: \(error)")
        }
        if finished.status != 0 {
            throw PostgresClusterError(description: "\(what) failed (status \(finished.status)): \(finished.output.suffix(1500)) "
                + "server log: \(log.suffix(1500))")
        }
        return finished.output
    }

    /// A shell that waits while this process lives and the keep file exists, then stops the cluster
    /// and removes its directory.
    private func startWatchdog() throws {
        let stop = (runAsUser.map { "/usr/sbin/runuser -u \($0) -- " } ?? "")
            + "\(binDirectory)/pg_ctl -D '\(dataDirectory)' stop -m immediate -w -t 20"
        let script = """
            while kill -0 \(getpid()) 2>/dev/null && [ -e '\(keepFile)' ]; do sleep 1; done
            \(stop) >/dev/null 2>&1
            rm -rf '\(directory)'
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    private static func check(_ result: (status: Int32, stdout: String, stderr: String), _ what: String) throws {
        guard result.status == 0 else {
            throw PostgresClusterError(description: "\(what) failed (status \(result.status)): \(result.stderr.suffix(1500))")
        }
    }

    /// The newest /usr/lib/postgresql/<version>/bin that has initdb.
    static func findBinaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap { Int($0) }.sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        throw PostgresClusterError(description: "no PostgreSQL server under \(root)/<version>/bin; run scripts/install-deps.sh (postgresql)")
    }

    /// `postgres` when the system has that user, otherwise `nobody`.
    static func unprivilegedUser() -> String { getpwnam("postgres") != nil ? "postgres" : "nobody" }
}
