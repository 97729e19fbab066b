import ConcentratorCore
import Platform

/// A file that an apply writes besides the configuration (a head-end key file, a meter key file).
public struct PendingFile: Hashable, Sendable {
    public var path: String
    public var text: String
    public var mode: UInt32
    /// For the diff: "head-end key sealing 67ca2ffd6fe9efab". Never key material.
    public var what: String
    /// For a head-end key file: what it holds.
    public var headEndKey: HeadEndKeyInfo?

    public init(path: String, text: String, mode: UInt32, what: String, headEndKey: HeadEndKeyInfo? = nil) {
        self.path = path
        self.text = text
        self.mode = mode
        self.what = what
        self.headEndKey = headEndKey
    }
}

/// The screens of the main menu, in menu order (the number is the position).
public enum MenuItem: String, CaseIterable, Sendable {
    case status, bus, scan, meters, `import`, read, poll, uplink, keys, time, events, export, apply, report, mesh

    var summary: String {
        switch self {
        case .status: return "buses, meters, last archived interval, uplink, clock"
        case .bus: return "bus setup: port, line settings, RS-485, protocol"
        case .scan: return "scan a bus, compare with the configuration, add"
        case .meters: return "list, add, edit, remove meters"
        case .import: return "bulk import of meters from CSV, per-row report"
        case .read: return "test read: verdict, values, units, plausible ranges"
        case .poll: return "poll now: read every meter, archive, send at once"
        case .uplink: return "uplink settings; test with enrolment at the head-end"
        case .keys: return "device fingerprints; import head-end and meter keys"
        case .time: return "time, time zone, clock synchronisation"
        case .events: return "recent events (with details) and the agent's log"
        case .export: return "archive export to the screen or a file (USB stick)"
        case .apply: return "show the changes, validate, apply (rolls back on failure)"
        case .report: return "commissioning report: save it, send it to the head-end"
        case .mesh: return "mesh: neighbours, link quality, route, duty budget, network key"
        }
    }

    /// The item's number in the menu.
    public var number: Int { (Self.allCases.firstIndex(of: self) ?? 0) + 1 }

    /// How hints name it: "apply (menu 13)".
    public var reference: String { "\(rawValue) (menu \(number))" }
}

/// One console session: the working copy of the configuration, the files waiting to be written,
/// and the menu loop. Screens are extensions in Screens/.
public final class ConsoleSession: @unchecked Sendable {
    public let ui: ConsoleUI
    public let services: ConsoleServices
    public let configPath: String
    let controlSocketOverride: String?
    /// The configuration as the file holds it (as read at start or written by the last apply).
    public internal(set) var applied: ConfigDocument
    /// The file's exact text when it was read or written (nil: no file yet).
    var appliedText: String?
    /// The working copy the screens edit.
    public internal(set) var working: ConfigDocument
    /// Files to write with the next apply, by path.
    public internal(set) var pendingFiles: [PendingFile] = []
    /// The newest scan of each bus (for the combined view and the CSV import's comparison).
    public internal(set) var lastScans: [String: ScanRecord] = [:]
    /// The newest poll-now results, and when they were taken.
    public internal(set) var lastPoll: (results: [MeterPollResult], time: Timestamp)?
    /// The newest uplink test: `passed`, `failed` or `not run`, with a one-line detail.
    public internal(set) var lastUplinkTest: (result: String, detail: String)?
    /// Who commissions the gateway and a note on the site (asked once, for the enrolment and the report).
    public internal(set) var installer: String?
    public internal(set) var siteNote: String?

    public init(ui: ConsoleUI, services: ConsoleServices, configPath: String, controlSocket: String? = nil,
                document: ConfigDocument, fileText: String?) {
        self.ui = ui
        self.services = services
        self.configPath = configPath
        controlSocketOverride = controlSocket
        applied = document
        appliedText = fileText
        working = document
    }

    /// The control socket of the agent running with the applied configuration.
    public var socketPath: String { controlSocketOverride ?? FileSystem.join(applied.runtimeDirectory, "control.sock") }

    public var agent: any AgentAccess { services.agent(socketPath) }

    /// Changes between the file and the working copy, plus files waiting to be written.
    public var changes: [ConfigChange] { ConfigDiff.changes(from: applied.root, to: working.root) }
    public var unappliedCount: Int { changes.count + pendingFiles.count }

    /// The meter profiles the working copy can use: its profile directories, then the shipped ones.
    public var profiles: ProfileLibrary {
        ProfileLibrary.load(directories: working.profileDirectories + [ProfileLibrary.shippedDirectory()].compactMap { $0 })
    }

    func stage(_ file: PendingFile) {
        pendingFiles.removeAll { $0.path == file.path }
        pendingFiles.append(file)
    }

    // MARK: - Menu loop

    /// Runs until the installer quits or the input ends. Returns the exit status.
    public func run() -> Int32 {
        ui.say("concentrator console  \(ConcentratorVersion.current)  config \(TextLayout.cut(configPath, to: 40))", .heading)
        ui.say("device \(working.deviceID ?? "(no id)")  agent " + (agent.isRunning ? "running" : "not running (direct mode)"))
        showMenu()
        while true {
            let item: MenuItem?
            do {
                item = try ui.ask("main", help: menuHelp, parseMenuChoice)
            } catch ConsoleStop.cancelled {
                ui.say("Nothing to cancel here. Type q to leave the console.", .quiet)
                continue
            } catch {
                return 0
            }
            guard let item else {
                if confirmQuit() { return 0 }
                continue
            }
            do {
                try open(item)
            } catch ConsoleStop.cancelled {
                ui.say("Cancelled; nothing was changed by that step.", .warning)
            } catch {
                return 0
            }
            showShortMenu()
        }
    }

    func open(_ item: MenuItem) throws(ConsoleStop) {
        switch item {
        case .status: try statusScreen()
        case .bus: try busScreen()
        case .scan: try scanScreen()
        case .meters: try metersScreen()
        case .import: try importScreen()
        case .read: try readScreen()
        case .poll: try pollScreen()
        case .uplink: try uplinkScreen()
        case .keys: try keysScreen()
        case .time: try timeScreen()
        case .events: try eventsScreen()
        case .export: try exportScreen()
        case .apply: try applyScreen()
        case .report: try reportScreen()
        case .mesh: try meshScreen()
        }
    }

    /// nil = quit.
    func parseMenuChoice(_ text: String) -> Result<MenuItem?, InputProblem> {
        let lower = text.lowercased()
        if ["q", "quit", "exit"].contains(lower) { return .success(nil) }
        if let n = Int(lower), (1...MenuItem.allCases.count).contains(n) { return .success(MenuItem.allCases[n - 1]) }
        if let item = MenuItem(rawValue: lower) { return .success(item) }
        if lower == "menu" {
            showMenu()
            return .failure(InputProblem("choose a number or a name from the menu"))
        }
        return .failure(InputProblem(lower.isEmpty ? "type a number 1-\(MenuItem.allCases.count), a name such as scan, ? for help, or q"
            : "unknown choice \"\(TextLayout.cut(text, to: 20))\": type a number 1-\(MenuItem.allCases.count), a name such as scan, ? for help, or q"))
    }

    var menuHelp: [String] {
        MenuItem.allCases.enumerated().map { index, item in
            TextLayout.pad(String(index + 1), 2, right: true) + " " + TextLayout.pad(item.rawValue, 7) + " " + item.summary
        } + [" q quit    leave the console", "Every prompt takes ? for help; Ctrl-C cancels the current step."]
    }

    func showMenu() {
        ui.heading("Main menu")
        for line in menuHelp { ui.say(line) }
    }

    func showShortMenu() {
        ui.say("")
        let pending = unappliedCount
        var items = MenuItem.allCases.map { "\($0.number) \($0.rawValue)" } + ["? help", "q quit"]
        if pending > 0 { items.append("(\(pending) unapplied)") }
        var line = ""
        for item in items {
            if !line.isEmpty, line.count + 2 + item.count > TextLayout.width - 1 {
                ui.say(line, .quiet)
                line = ""
            }
            line += (line.isEmpty ? "" : "  ") + item
        }
        if !line.isEmpty { ui.say(line, .quiet) }
    }

    func confirmQuit() -> Bool {
        let pending = unappliedCount
        guard pending > 0 else { return true }
        do {
            return try ui.confirm("\(pending) changes are not applied and will be lost. Leave anyway?", default: false)
        } catch ConsoleStop.cancelled {
            return false
        } catch {
            return true
        }
    }
}
