#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConcentratorCore

/// Why one profile file (or a whole profile directory) could not be used. The rest of the library
/// still loads: one bad file never hides the good ones.
public struct ProfileLoadFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong with the file.
    public enum Reason: Hashable, Sendable {
        /// The directory could not be listed or the file could not be read.
        case unreadable(FileError)
        /// The document has problems (every one listed, with JSON path and line).
        case invalid(ValidationFailure)
        /// The file name does not match the profile id inside it (`<id>.json` is required).
        case idMismatch(fileName: String, id: String)
    }

    /// The file or directory concerned.
    public let path: String
    public let reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .unreadable(let error): return error.description
        case .invalid(let failure): return failure.description
        case .idMismatch(let fileName, let id):
            return "\(path): file name \(fileName) does not match the profile id \"\(id)\"; rename the file to \(id).json"
        }
    }
}

/// The meter profiles available to the agent: every `*.json` in a list of directories, by id.
/// Earlier directories win: a site directory listed before the shipped one overrides a shipped
/// profile of the same id.
public struct ProfileLibrary: Sendable {
    /// Valid profiles by id.
    public private(set) var profiles: [String: MeterProfile]
    /// The file each profile came from, by id.
    public private(set) var origins: [String: String]
    /// Files and directories that could not be used, in the order met.
    public private(set) var failures: [ProfileLoadFailure]

    public init(profiles: [String: MeterProfile] = [:], origins: [String: String] = [:], failures: [ProfileLoadFailure] = []) {
        self.profiles = profiles
        self.origins = origins
        self.failures = failures
    }

    /// The profile with this id, if one loaded.
    public func profile(id: String) -> MeterProfile? { profiles[id] }

    /// All loaded ids, sorted.
    public var ids: [String] { profiles.keys.sorted() }

    /// Loads every `*.json` file in `directories`. A profile id found in an earlier directory hides
    /// the same id in later ones. Problems are collected in `failures`, never thrown.
    public static func load(directories: [String]) -> ProfileLibrary {
        var library = ProfileLibrary()
        for directory in directories {
            let names: [String]
            do {
                names = try FileSystem.list(directory)
            } catch {
                library.failures.append(ProfileLoadFailure(path: directory, reason: .unreadable(error)))
                continue
            }
            for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
                library.loadFile(FileSystem.join(directory, name), fileName: name)
            }
        }
        return library
    }

    private mutating func loadFile(_ path: String, fileName: String) {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readBytes(path)
        } catch {
            failures.append(ProfileLoadFailure(path: path, reason: .unreadable(error)))
            return
        }
        let profile: MeterProfile
        do {
            profile = try MeterProfileLoader.parse(bytes: bytes, source: path)
        } catch {
            failures.append(ProfileLoadFailure(path: path, reason: .invalid(error)))
            return
        }
        guard fileName == profile.id + ".json" else {
            failures.append(ProfileLoadFailure(path: path, reason: .idMismatch(fileName: fileName, id: profile.id)))
            return
        }
        if profiles[profile.id] == nil {
            profiles[profile.id] = profile
            origins[profile.id] = path
        }
    }

    /// Name of the environment variable that points at the shipped profile directory.
    public static let environmentVariable = "CONCENTRATOR_PROFILES"

    /// Where the profiles installed with the program are, in this order:
    /// 1. `$CONCENTRATOR_PROFILES` when set (returned as is, so a wrong value shows up as a load failure);
    /// 2. `<executable dir>/profiles`;
    /// 3. `<executable dir>/../share/concentrator/profiles`;
    /// 4. `/usr/share/concentrator/profiles`;
    /// 5. a `Profiles/` directory beside a `Package.swift`, walking up from the executable's
    ///    directory (development builds run from `.build/debug`).
    /// Returns nil when none exists.
    public static func shippedDirectory(environmentValue: String? = environment(ProfileLibrary.environmentVariable),
                                        executablePath: String? = FileSystem.executablePath()) -> String? {
        if let environmentValue, !environmentValue.isEmpty { return environmentValue }
        var candidates: [String] = []
        let executableDirectory = executablePath.map(FileSystem.directoryName)
        if let dir = executableDirectory {
            candidates.append(FileSystem.join(dir, "profiles"))
            candidates.append(FileSystem.join(dir, "../share/concentrator/profiles"))
        }
        candidates.append("/usr/share/concentrator/profiles")
        if let found = candidates.first(where: FileSystem.isDirectory) {
            return FileSystem.realPath(found) ?? found
        }
        var dir = executableDirectory
        while let current = dir {
            let profiles = FileSystem.join(current, "Profiles")
            if FileSystem.exists(FileSystem.join(current, "Package.swift")), FileSystem.isDirectory(profiles) {
                return profiles
            }
            let parent = FileSystem.directoryName(current)
            dir = parent == current ? nil : parent
        }
        return nil
    }

    /// The value of an environment variable, or nil.
    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
