import ConcentratorCore
import Platform

/// Why `--meters` could not be given profiles.
enum ProfileResolutionError: Error, CustomStringConvertible {
    case brokenProfile(ProfileLoadFailure)
    case unknownProfile(id: String, directories: [String])

    var description: String {
        switch self {
        case .brokenProfile(let failure):
            return "the profile file has errors: \(failure)"
        case .unknownProfile(let id, let directories):
            let places = directories.isEmpty ? "the shipped profiles" : directories.joined(separator: ", ") + " and the shipped profiles"
            return "unknown profile \"\(id)\" (looked in \(places); check the id against the file names)"
        }
    }
}

/// The one place the executable turns profile ids into profiles: from the `--profiles` directories,
/// then the shipped ones, through `Platform.ProfileLibrary`. A profile file with errors is reported
/// only when it is asked for.
func profileResolver(directories: [String]) -> (String) throws(ProfileResolutionError) -> MeterProfile {
    var all = directories
    if let shipped = ProfileLibrary.shippedDirectory() { all.append(shipped) }
    let library = ProfileLibrary.load(directories: all)
    return { id throws(ProfileResolutionError) in
        if let profile = library.profile(id: id) { return profile }
        if let broken = library.failures.first(where: { $0.path.hasSuffix("/\(id).json") }) { throw .brokenProfile(broken) }
        throw .unknownProfile(id: id, directories: directories)
    }
}
