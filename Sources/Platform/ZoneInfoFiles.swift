import ConcentratorCore

/// The system's time zone database (/usr/share/zoneinfo, Debian package `tzdata`): reads one zone's
/// TZif file as bytes. Parsing is pure and lives in `Monitoring.ZoneRules(tzif:name:)`.
public enum ZoneInfoFiles {
    /// Where Debian, Ubuntu and Yocto install the compiled zone files.
    public static let defaultDirectory = "/usr/share/zoneinfo"

    /// Why a zone file could not be read.
    public enum Failure: Error, Hashable, Sendable, CustomStringConvertible {
        /// The name is not of the form `Area/Location` (letters, digits, `_`, `-`, `+`, `/`; no `..`).
        case invalidName(String)
        /// No such zone in the directory, or it cannot be read.
        case unreadable(String, FileError)

        public var description: String {
            switch self {
            case .invalidName(let name):
                return "time zone name \"\(name)\" is not a zone name such as \"Europe/Rome\""
            case .unreadable(let name, let error):
                return "time zone \"\(name)\" is not installed (\(error)); install the tzdata package or fix monitoring.location.timeZone"
            }
        }
    }

    /// Whether `name` has the shape of a zone name (`Europe/Rome`, `UTC`, `Etc/GMT-1`), so it can be
    /// joined to the directory without escaping it.
    public static func isValidName(_ name: String) -> Bool { ConfigurationLoader.isTimeZoneName(name) }

    /// The bytes of the zone file for `name`.
    public static func read(zone name: String, directory: String = defaultDirectory) throws(Failure) -> [UInt8] {
        guard isValidName(name) else { throw .invalidName(name) }
        do {
            return try FileSystem.readBytes(FileSystem.join(directory, name))
        } catch {
            throw .unreadable(name, error)
        }
    }
}
