/// What the configuration validator needs to know but cannot find in the config file itself:
/// the installed meter profiles (their protocol and the quantities they read) and the meter
/// protocols this build can drive. The agent builds it from the loaded profiles; tests build it by hand.
public struct ConfigurationContext: Hashable, Sendable {
    /// The facts about one installed profile that config validation checks against.
    public struct ProfileFacts: Hashable, Sendable {
        public var protocolKind: MeterProtocolKind
        /// Every quantity the profile can read.
        public var quantities: [QuantityID]
        /// The named status flags the profile reads (its status register's bits).
        public var statusFlags: [String]
        /// Whether the profile declares a relay (a `relay` output needs one).
        public var hasRelay: Bool

        public init(protocolKind: MeterProtocolKind, quantities: [QuantityID], statusFlags: [String] = [], hasRelay: Bool = false) {
            self.protocolKind = protocolKind
            self.quantities = quantities
            self.statusFlags = statusFlags
            self.hasRelay = hasRelay
        }
    }

    /// Installed profiles by id (`eastron-sdm630`).
    public var profiles: [String: ProfileFacts]
    /// Protocols the bus owner of this build can drive. Meters of other protocols are refused with
    /// "protocol not supported by this build yet".
    public var supportedProtocols: Set<MeterProtocolKind>
    /// Port paths as written in the file → the path they resolve to on this machine (symlinks such
    /// as udev's `/dev/serial/by-id/…` followed), so that one port under two names is one port. The
    /// agent fills it with `realpath`; paths missing here are compared after lexical normalisation.
    public var resolvedPaths: [String: String]

    public init(profiles: [String: ProfileFacts], supportedProtocols: Set<MeterProtocolKind> = [.modbus],
                resolvedPaths: [String: String] = [:]) {
        self.profiles = profiles
        self.supportedProtocols = supportedProtocols
        self.resolvedPaths = resolvedPaths
    }

    /// A context built from loaded profiles. When two profiles share an id, the first one wins
    /// (profile directories are searched in order, so a site profile overrides a shipped one).
    public init(profiles: [MeterProfile], supportedProtocols: Set<MeterProtocolKind> = [.modbus]) {
        var facts: [String: ProfileFacts] = [:]
        for profile in profiles where facts[profile.id] == nil {
            facts[profile.id] = ProfileFacts(protocolKind: profile.protocolKind, quantities: profile.quantities,
                                             statusFlags: profile.statusFlags, hasRelay: profile.hasRelay)
        }
        self.init(profiles: facts, supportedProtocols: supportedProtocols)
    }

    /// Installed profile ids, sorted.
    public var knownProfileIDs: [String] { profiles.keys.sorted() }

    /// Installed profile ids for one protocol, sorted.
    public func profileIDs(for protocolKind: MeterProtocolKind) -> [String] {
        profiles.filter { $0.value.protocolKind == protocolKind }.keys.sorted()
    }
}
