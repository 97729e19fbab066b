import ArgumentParser
import ConcentratorCore
import HeadEnd
import HeadEndWeb
import Platform
#if canImport(Glibc)
import Glibc
#endif

/// `headend users add|list|remove`: the dashboard's accounts, in `dashboard.sqlite` beside the head-end database.
struct UsersGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "users", abstract: "Manage the web dashboard's accounts.",
                                                    subcommands: [UsersAdd.self, UsersList.self, UsersRemove.self])
}

/// Where the dashboard database is: `--dashboard-database`, or `dashboard.sqlite` beside the head-end database.
struct DashboardDatabaseOption: ParsableArguments {
    @OptionGroup var database: DatabaseOption
    @Option(help: "The dashboard's database (default: dashboard.sqlite beside the head-end database).") var dashboardDatabase: String?

    func open() throws -> DashboardDatabase {
        let location = try database.databaseLocation()
        do { return try DashboardDatabase.open(path: try dashboardDatabase ?? DashboardDatabase.defaultPath(for: location)) } catch {
            Output.error("\(error)")
            throw ExitCode(ExitStatus.failure)
        }
    }
}

struct UsersAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Create a dashboard account (or, with --replace, set a new password and role).",
        discussion: """
            The password is read from --password-file (its first line), or from standard input: asked twice without echo on a
            terminal, else its first line. At least \(PasswordHasher.minimumLength) characters. Stored as a scrypt hash
            (N=2^17, r=8, p=1). Roles: reader (read only), operator and admin (may also send commands from the dashboard).
            """)

    @OptionGroup var database: DashboardDatabaseOption
    @Option(help: "The account's name (1–64 of A–Z a–z 0–9 . _ - @).") var name: String
    @Option(help: "reader, operator or admin.") var role: String
    @Option(help: "A file whose first line is the password.") var passwordFile: String?
    @Flag(help: "Replace an existing account's password and role.") var replace = false

    func validate() throws {
        guard DashboardRole(rawValue: role) != nil else { throw ValidationError("--role must be reader, operator or admin") }
        guard (1...64).contains(name.utf8.count),
              name.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || [0x2E, 0x5F, 0x2D, 0x40].contains($0) })
        else { throw ValidationError("--name must be 1–64 of A–Z a–z 0–9 . _ - @") }
    }

    func run() throws {
        let password = try readPassword()
        guard password.count >= PasswordHasher.minimumLength else {
            Output.error("the password must have at least \(PasswordHasher.minimumLength) characters")
            throw ExitCode(ExitStatus.usage)
        }
        let db = try database.open()
        defer { db.close() }
        do {
            let hash = try PasswordHasher.standard.hash(password)
            try db.addUser(name: name, role: DashboardRole(rawValue: role)!, passwordHash: hash, at: SystemClock().now(), replace: replace)
        } catch {
            Output.error("\(error)")
            throw ExitCode(ExitStatus.failure)
        }
        Output.stdout("user \(name) (\(role)) \(replace ? "set" : "created") in \(db.path)\n")
    }

    private func readPassword() throws -> String {
        if let passwordFile {
            do { return String(try FileSystem.readText(passwordFile).split(separator: "\n", omittingEmptySubsequences: false).first ?? "") } catch {
                Output.error("\(error)")
                throw ExitCode(ExitStatus.config)
            }
        }
        if isatty(0) == 1 {
            let first = getpass("Password: ").map { String(cString: $0) } ?? ""
            let second = getpass("Again: ").map { String(cString: $0) } ?? ""
            guard first == second else {
                Output.error("the two passwords differ")
                throw ExitCode(ExitStatus.usage)
            }
            return first
        }
        return readLine(strippingNewline: true) ?? ""
    }
}

struct UsersList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the dashboard's accounts and roles.")
    @OptionGroup var database: DashboardDatabaseOption

    func run() throws {
        let db = try database.open()
        defer { db.close() }
        let users = (try? db.users()) ?? []
        Output.stdout(users.isEmpty ? "no accounts (create one: headend users add --name NAME --role operator)\n"
                      : users.map { "\($0.name) \($0.role)\n" }.joined())
    }
}

struct UsersRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a dashboard account (its sessions end at the next restart).")
    @OptionGroup var database: DashboardDatabaseOption
    @Option(help: "The account's name.") var name: String

    func run() throws {
        let db = try database.open()
        defer { db.close() }
        guard (try? db.removeUser(name)) == true else {
            Output.error("no account \(name)")
            throw ExitCode(ExitStatus.dataError)
        }
        Output.stdout("user \(name) removed\n")
    }
}
