import ConcentratorCore
import Monitoring
import Platform

/// Why the agent cannot start with its configuration. Always exit code 78 (EX_CONFIG), so that
/// systemd does not restart-loop on it.
public enum AgentSetupError: Error, CustomStringConvertible {
    case unreadable(FileError)
    case invalid(ValidationFailure)
    case profiles([ProfileLoadFailure])
    /// The board file named by `device.board` cannot be read.
    case boardUnreadable(FileError)
    /// The board file has problems (every one listed).
    case boardInvalid(ValidationFailure)
    /// `monitoring.location.timeZone` is not installed or its rules cannot be read.
    case timeZone(String)

    public var description: String {
        switch self {
        case .unreadable(let e): return "cannot read the configuration: \(e)"
        case .invalid(let f): return f.description
        case .boardUnreadable(let e): return "cannot read the board file (device.board): \(e)"
        case .boardInvalid(let f): return "board file (device.board) " + f.description
        case .timeZone(let problem): return "monitoring.location.timeZone: \(problem)"
        case .profiles(let failures):
            return "meter profiles with errors:\n" + failures.map { "  - \($0)" }.joined(separator: "\n")
        }
    }
}

/// A validated configuration with the meter profiles it refers to.
public struct AgentSetup: Sendable {
    public let configPath: String
    public let config: ConcentratorConfig
    public let profiles: ProfileLibrary
    /// The board named by `device.board`, if any.
    public let board: BoardDefinition?
    /// The rules of `monitoring.location.timeZone` (from the system's zone files), when a location is configured.
    public var zone: ZoneRules?

    /// Reads and validates `configPath`, loading profiles from the config's profile directories,
    /// then the shipped ones. Every problem is reported at once.
    public static func load(configPath: String, extraProfileDirectories: [String] = []) throws(AgentSetupError) -> AgentSetup {
        let text: String
        do { text = try FileSystem.readText(configPath) } catch { throw .unreadable(error) }
        return try validate(text: text, source: configPath, extraProfileDirectories: extraProfileDirectories)
    }

    /// Validates configuration text (also used by `config check` and, later, by `config.set`).
    public static func validate(text: String, source: String, extraProfileDirectories: [String] = []) throws(AgentSetupError) -> AgentSetup {
        // Profile directories named in the config come first, so read them before validating fully.
        var directories = extraProfileDirectories
        let parsed = try? JSONParser.parse(text)
        if case .object? = parsed, let dirs = parsed?["device"]?["profileDirectories"]?.arrayValue {
            directories += dirs.compactMap(\.stringValue)
        }
        if let shipped = ProfileLibrary.shippedDirectory() { directories.append(shipped) }
        let library = ProfileLibrary.load(directories: directories)
        var context = ConfigurationContext(profiles: Array(library.profiles.values), supportedProtocols: AgentSetup.supportedProtocols)
        // Ports as this machine resolves them (udev links followed), so one port is never two buses.
        for bus in parsed?["buses"]?.arrayValue ?? [] {
            if let device = bus["device"]?.stringValue, device.hasPrefix("/"), let real = FileSystem.realPath(device) {
                context.resolvedPaths[device] = real
            }
        }
        let config: ConcentratorConfig
        do {
            config = try ConfigurationLoader.load(text: text, source: source, context: context)
        } catch {
            throw .invalid(error)
        }
        // A broken profile file only matters if the config uses that profile id.
        let used = Set(config.meters.map(\.profile))
        let relevant = library.failures.filter { failure in used.contains { failure.path.hasSuffix("/\($0).json") } }
        if !relevant.isEmpty { throw .profiles(relevant) }
        var zone: ZoneRules?
        if let location = config.monitoring?.location { zone = try loadZone(location.timeZone) }
        return AgentSetup(configPath: source, config: config, profiles: library, board: try config.device.board.map(loadBoard), zone: zone)
    }

    /// Reads a zone's rules from the system's zone files (Debian package tzdata).
    public static func loadZone(_ name: String, directory: String = ZoneInfoFiles.defaultDirectory) throws(AgentSetupError) -> ZoneRules {
        let bytes: [UInt8]
        do { bytes = try ZoneInfoFiles.read(zone: name, directory: directory) } catch {
            throw .timeZone(error.description)
        }
        do { return try ZoneRules(tzif: bytes, name: name) } catch {
            throw .timeZone("\(directory)/\(name) is not a readable zone file: \(error)")
        }
    }

    /// Reads and validates a board file.
    public static func loadBoard(path: String) throws(AgentSetupError) -> BoardDefinition {
        let text: String
        do { text = try FileSystem.readText(path) } catch { throw .boardUnreadable(error) }
        do { return try BoardLoader.load(text: text, source: path) } catch { throw .boardInvalid(error) }
    }

    /// The meter protocols the bus owners drive: Modbus RTU, IEC 62056-21 and DLMS/COSEM over HDLC.
    public static let supportedProtocols: Set<MeterProtocolKind> = [.modbus, .iec62056_21, .dlms, .mbus, .wmbus]

    /// The meters of `bus` with their profiles (validation guarantees every profile exists).
    public func meters(on bus: BusName) -> [(MeterSettings, MeterProfile)] {
        config.meters(on: bus).compactMap { m in profiles.profile(id: m.profile).map { (m, $0) } }
    }
}
