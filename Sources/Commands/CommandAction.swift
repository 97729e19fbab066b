import ConcentratorCore
import Wire

/// A command refused with a reply code (Docs/mqtt-api.md §11.5). Nothing was done.
public struct CommandRejection: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: CommandReplyCode
    public var message: String

    public init(_ code: CommandReplyCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// What the device's configuration in force offers to commands: its meters, what each can do, its buses.
public struct CommandContext: Sendable {
    /// One configured meter as commands see it.
    public struct Meter: Hashable, Sendable {
        public var bus: BusName
        public var hasRelay: Bool
        public var hasClock: Bool

        public init(bus: BusName, hasRelay: Bool, hasClock: Bool) {
            self.bus = bus
            self.hasRelay = hasRelay
            self.hasClock = hasClock
        }
    }

    public var meters: [MeterID: Meter]
    public var buses: [BusName]
    /// The archive series the configuration keeps (interval always; profile when configured).
    public var series: Set<SeriesKind>
    /// The switched outputs of `monitoring.outputs` (schedule.set and schedule.get name them).
    public var outputs: [String]

    public init(meters: [MeterID: Meter], buses: [BusName], series: Set<SeriesKind>, outputs: [String] = []) {
        self.meters = meters
        self.buses = buses
        self.series = series
        self.outputs = outputs
    }
}

/// What a relay command does.
public enum RelayOperation: String, Hashable, Sendable, CaseIterable {
    case connect, disconnect, status
}

/// A configuration change by `config.set`: a whole new document, or an RFC 7396 merge patch.
public enum ConfigChange: Hashable, Sendable {
    case document(JSONValue)
    case mergePatch(JSONValue)
}

/// A verified, authorised command with its arguments checked and typed (Docs/mqtt-api.md §11.4).
/// Each verb's arguments, least role and execution live in its own file under `Verbs/`.
public enum CommandAction: Hashable, Sendable {
    case ping
    case status
    case read(meters: [MeterID], quantities: [QuantityID]?, startDeadline: Duration)
    case backfill(from: Timestamp, to: Timestamp, meters: [MeterID], series: [SeriesKind])
    case relay(meter: MeterID, operation: RelayOperation, startDeadline: Duration)
    case timeSync(meters: [MeterID], threshold: Duration, startDeadline: Duration)
    case scan(bus: BusName, addresses: ClosedRange<UInt8>, timeout: Duration)
    /// Meter objects as in the configuration's `meters` array.
    case metersAdd([JSONValue])
    case metersRemove([MeterID])
    case configGet
    case configSet(ConfigChange)
    case keysRotate
    case restart
    case alarmAck(rule: String, meter: MeterID)
    /// The change, and the `args` it was read from (kept as they are, and read again after a restart).
    case scheduleSet(ScheduleChange, arguments: JSONValue)
    case scheduleGet(output: String?)

    /// Checks `arguments` for `verb` against `context` (the verb's file reads them): unknown members,
    /// types and ranges give `invalid-arguments`, a meter that is not configured `unknown-meter`, a
    /// meter whose profile cannot do what is asked `not-supported`. Pure.
    public static func parse(verb: CommandVerb, arguments: JSONValue, context: CommandContext) throws(CommandRejection) -> CommandAction {
        let collector = IssueCollector()
        guard let object = collector.object(arguments, at: "$.args") else {
            throw CommandRejection(.invalidArguments, "\"args\" must be an object")
        }
        let reader = CommandArguments(object: object, context: context)
        let action = verb.handler.parse(reader)
        object.finish()
        if !collector.issues.isEmpty {
            throw CommandRejection(.invalidArguments, collector.issues.map(\.description).joined(separator: "; "))
        }
        if let problem = reader.meterProblem { throw problem }
        guard let action else { throw CommandRejection(.invalidArguments, "incomplete arguments for \(verb.rawValue)") }
        return action
    }

    /// Runs the action through `device`, in its verb's file.
    public func run(on device: any CommandDevice, envelope: CommandEnvelope, signer: KeyID) -> CommandOutcome {
        switch self {
        case .ping: return PingVerb.run(on: device)
        case .status: return StatusVerb.run(on: device)
        case .read(let meters, let quantities, let deadline):
            return ReadVerb.run(meters: meters, quantities: quantities, startDeadline: deadline, on: device)
        case .backfill(let from, let to, let meters, let series):
            return BackfillVerb.run(from: from, to: to, meters: meters, series: series, on: device)
        case .relay(let meter, let operation, let deadline):
            return RelayVerb.run(meter: meter, operation: operation, startDeadline: deadline, on: device)
        case .timeSync(let meters, let threshold, let deadline):
            return TimeSyncVerb.run(meters: meters, threshold: threshold, startDeadline: deadline, envelope: envelope, on: device)
        case .scan(let bus, let addresses, let timeout): return ScanVerb.run(bus: bus, addresses: addresses, timeout: timeout, on: device)
        case .metersAdd(let meters): return MetersAddVerb.run(meters: meters, envelope: envelope, signer: signer, on: device)
        case .metersRemove(let ids): return MetersRemoveVerb.run(meters: ids, envelope: envelope, signer: signer, on: device)
        case .configGet: return ConfigGetVerb.run(on: device)
        case .configSet(let change): return ConfigSetVerb.run(change, envelope: envelope, signer: signer, on: device)
        case .keysRotate: return KeysRotateVerb.run(on: device)
        case .restart: return RestartVerb.run(on: device)
        case .alarmAck(let rule, let meter): return AlarmAckVerb.run(rule: rule, meter: meter, on: device)
        case .scheduleSet(let change, let arguments): return ScheduleSetVerb.run(change, arguments: arguments, on: device)
        case .scheduleGet(let output): return ScheduleGetVerb.run(output: output, on: device)
        }
    }
}
