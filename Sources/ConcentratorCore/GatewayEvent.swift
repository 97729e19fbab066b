/// Something that happened on the gateway worth telling the head-end right away: a meter going
/// offline or coming back, a port lost, an interval missed, an archive problem.
public struct GatewayEvent: Hashable, Sendable, Codable {
    /// What kind of event. Stable numeric codes: they are stored and sent on the wire.
    public enum Kind: UInt16, Hashable, Sendable, Codable, CaseIterable {
        case agentStarted = 1
        case agentStopping = 2
        case meterOffline = 10
        case meterOnline = 11
        case meterError = 12
        case portUnavailable = 20
        case portRestored = 21
        case intervalMissed = 30
        case archiveError = 40
        case archiveRecovered = 41
        case retentionDroppedUnsent = 42
        case configApplied = 50
        case configRolledBack = 51
        case commandExecuted = 60
        case clockUnsynchronised = 70

        public var name: String {
            switch self {
            case .agentStarted: return "agent-started"
            case .agentStopping: return "agent-stopping"
            case .meterOffline: return "meter-offline"
            case .meterOnline: return "meter-online"
            case .meterError: return "meter-error"
            case .portUnavailable: return "port-unavailable"
            case .portRestored: return "port-restored"
            case .intervalMissed: return "interval-missed"
            case .archiveError: return "archive-error"
            case .archiveRecovered: return "archive-recovered"
            case .retentionDroppedUnsent: return "retention-dropped-unsent"
            case .configApplied: return "config-applied"
            case .configRolledBack: return "config-rolled-back"
            case .commandExecuted: return "command-executed"
            case .clockUnsynchronised: return "clock-unsynchronised"
            }
        }
    }

    /// How serious it is.
    public enum Severity: UInt8, Hashable, Sendable, Codable {
        case info = 0, warning = 1, error = 2
    }

    public var time: Timestamp
    public var kind: Kind
    public var severity: Severity
    public var bus: BusName?
    public var meter: MeterID?
    /// One human-readable line; never a secret.
    public var message: String

    public init(time: Timestamp, kind: Kind, severity: Severity, bus: BusName? = nil, meter: MeterID? = nil, message: String) {
        self.time = time
        self.kind = kind
        self.severity = severity
        self.bus = bus
        self.meter = meter
        self.message = message
    }
}
