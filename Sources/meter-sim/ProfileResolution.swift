import ConcentratorCore

/// Why `--meters` could not be given profiles.
enum ProfileResolutionError: Error, CustomStringConvertible {
    case loaderNotMerged
    case unknownProfile(id: String, directories: [String])

    var description: String {
        switch self {
        case .loaderNotMerged:
            return "profile loading not merged yet: this build of meter-sim cannot read Profiles/*.json, so --meters is unavailable"
        case .unknownProfile(let id, let directories):
            let places = directories.isEmpty ? "the shipped profiles" : directories.joined(separator: ", ") + " and the shipped profiles"
            return "unknown profile \"\(id)\" (looked in \(places); check the id against the file names)"
        }
    }
}

/// The one place the executable turns profile ids into profiles: from the `--profiles` directories,
/// then the shipped ones, through `Platform.ProfileLibrary` (`load(directories:)`, `profile(id:)`,
/// `failures`, `shippedDirectory()`). That loader is written on another branch; until it is merged
/// this reports so instead of reading the profile files some other way.
func profileResolver(directories: [String]) throws(ProfileResolutionError) -> (String) -> MeterProfile? {
    throw .loaderNotMerged
}
