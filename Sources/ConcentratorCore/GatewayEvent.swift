/// Something that happened on the gateway worth telling the head-end right away: a meter going
/// offline or coming back, a port lost, an interval missed, an archive problem, a command run.
/// Stored in the archive's events table and sent in event batches (Docs/mqtt-api.md, "Event body").
public struct GatewayEvent: Hashable, Sendable, Codable {
    /// What kind of event, as a stable numeric code (stored and sent on the wire; never reused).
    /// A head-end that does not know a code keeps the event with its text.
    public struct Kind: Hashable, Sendable, Codable, CustomStringConvertible {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        public static let agentStarted = Kind(rawValue: 1)
        public static let agentStopping = Kind(rawValue: 2)
        /// A meter stopped answering.
        public static let meterOffline = Kind(rawValue: 10)
        /// A meter answers again.
        public static let meterOnline = Kind(rawValue: 11)
        /// A meter answers, but with errors (exceptions, undecodable values).
        public static let meterError = Kind(rawValue: 12)
        /// A meter reports an alarm of its own (tamper, cover open, phase loss).
        public static let meterAlarm = Kind(rawValue: 13)
        /// A meter refused our authentication or its answers did not decipher (wrong key or password).
        public static let meterSecurityFailure = Kind(rawValue: 14)
        /// The gateway set a meter's clock (it had drifted beyond the threshold, or by `time.sync`).
        public static let meterClockSet = Kind(rawValue: 15)
        /// Intervals missing in the archive were read back from a meter's own load profile.
        public static let meterBackfilled = Kind(rawValue: 16)
        /// A meter's POD and serial number as configured (sent when they change; the head-end's CER export uses them).
        public static let meterIdentity = Kind(rawValue: 17)
        /// A bus's serial port disappeared or cannot be opened.
        public static let portUnavailable = Kind(rawValue: 20)
        public static let portRestored = Kind(rawValue: 21)
        /// Interval boundaries passed without a snapshot (a cycle overran, or the clock jumped).
        public static let intervalMissed = Kind(rawValue: 30)
        public static let archiveError = Kind(rawValue: 40)
        public static let archiveRecovered = Kind(rawValue: 41)
        /// Retention removed data the head-end had not acknowledged.
        public static let retentionDroppedUnsent = Kind(rawValue: 42)
        /// Free space on the state file system is low.
        public static let storageLow = Kind(rawValue: 43)
        public static let configApplied = Kind(rawValue: 50)
        public static let configRolledBack = Kind(rawValue: 51)
        public static let commandExecuted = Kind(rawValue: 60)
        public static let commandRejected = Kind(rawValue: 61)
        public static let clockUnsynchronised = Kind(rawValue: 70)
        public static let clockSynchronised = Kind(rawValue: 71)
        /// The wall clock stepped (or a step was accepted, or it came back): retention holds meanwhile.
        public static let clockStepped = Kind(rawValue: 72)
        /// A test batch sent to check the uplink end to end (the installer's console).
        public static let uplinkCheck = Kind(rawValue: 80)
        /// The installer's commissioning report (its text: `CommissioningReport.eventText`).
        public static let commissioningReport = Kind(rawValue: 81)
        /// A schedule switched an output (relay, lighting circuit), or a switching failed and is retried.
        public static let outputSwitched = Kind(rawValue: 90)
        /// The head-end rejected a batch (an ack with status rejected): it stays in the outbox, held.
        public static let batchRejected = Kind(rawValue: 82)

        /// Known kinds with their names, in code order.
        public static let known: [(kind: Kind, name: String)] = [
            (.agentStarted, "agent_started"), (.agentStopping, "agent_stopping"),
            (.meterOffline, "meter_offline"), (.meterOnline, "meter_online"), (.meterError, "meter_error"),
            (.meterAlarm, "meter_alarm"), (.meterSecurityFailure, "meter_security_failure"), (.meterClockSet, "meter_clock_set"),
            (.meterBackfilled, "meter_backfilled"), (.meterIdentity, "meter_identity"),
            (.portUnavailable, "port_unavailable"), (.portRestored, "port_restored"),
            (.intervalMissed, "interval_missed"), (.archiveError, "archive_error"), (.archiveRecovered, "archive_recovered"),
            (.retentionDroppedUnsent, "retention_dropped_unsent"), (.storageLow, "storage_low"),
            (.configApplied, "config_applied"), (.configRolledBack, "config_rolled_back"),
            (.commandExecuted, "command_executed"), (.commandRejected, "command_rejected"),
            (.clockUnsynchronised, "clock_unsynchronised"), (.clockSynchronised, "clock_synchronised"), (.clockStepped, "clock_stepped"),
            (.uplinkCheck, "uplink_check"), (.commissioningReport, "commissioning_report"),
            (.outputSwitched, "output_switched"),
            (.batchRejected, "batch_rejected"),
        ]

        /// The kind with this name, if known.
        public init?(name: String) {
            guard let k = Self.known.first(where: { $0.name == name }) else { return nil }
            self = k.kind
        }

        /// The name, or `kind_<code>` for a code this build does not know.
        public var name: String { Self.known.first { $0.kind == self }?.name ?? "kind_\(rawValue)" }
        public var description: String { name }

        public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(UInt16.self) }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(rawValue)
        }
    }

    /// How urgent an event is. Raw values are on the wire.
    public enum Severity: UInt8, Hashable, Sendable, Codable, CaseIterable {
        case info = 0, warning = 1, error = 2, critical = 3
    }

    public var time: Timestamp
    public var kind: Kind
    public var severity: Severity
    public var bus: BusName?
    public var meter: MeterID?
    /// One human-readable line (at most 1024 UTF-8 bytes on the wire); never a secret.
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
