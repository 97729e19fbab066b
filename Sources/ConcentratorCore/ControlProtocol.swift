/// A request on the agent's local control socket (`<runtime dir>/control.sock`): one JSON object
/// per line. The CLI and the installer's console use it so that the agent stays the only master
/// on every bus. Operations: `ping`, `status`, `read`, `scan`, `relay`, `events`, `audit` (the newest
/// commands received from the head-end and their outcome), `reload` (re-read the configuration file
/// and apply it, or answer every problem and keep the running one), `uplink.check` (a test batch to
/// the head-end and back, with its signed ack; with `enrol` it first publishes the signed enrolment
/// request and waits for the head-end's approval), `poll` (a commissioning poll of every meter or
/// `meters`, archived at once), `commissioning.report` (records the installer's report as an event
/// for the head-end), `monitoring` (edge monitoring's alarms and schedules, JSON text in `message`),
/// `schedule.set` (an override, timer or schedule from the console, `arguments` as the verb's); and, only when the agent runs with CONCENTRATOR_TEST_HOOKS=1, the test-only
/// `test.stall`.
public struct ControlRequest: Hashable, Sendable, Codable {
    public var op: String
    public var meter: MeterID?
    public var quantities: [QuantityID]?
    public var bus: BusName?
    public var from: Int?
    public var to: Int?
    public var timeoutMilliseconds: Int?
    /// For `relay`: true connect, false disconnect, absent = read state.
    public var connected: Bool?
    /// For `events` and `audit`: how many of the newest.
    public var limit: Int?
    /// For `test.stall`: how long the bus thread hangs.
    public var durationMilliseconds: Int?
    /// For `scan`: the addresses to probe (instead of `from`…`to`), such as 10-29 and 100-121.
    public var addresses: [Int]?
    /// For `scan`: line settings to use for this scan only (the working copy's, not yet applied).
    public var line: ControlLineSettings?
    /// For `poll`: the meters to poll (default every configured meter).
    public var meters: [MeterID]?
    /// For `uplink.check` with `enrol`: who commissions the gateway, and a note about the site.
    public var installer: String?
    public var note: String?
    /// For `uplink.check`: publish the signed enrolment request first and wait for the approval.
    public var enrol: Bool?
    /// For `commissioning.report`: the report to record and send.
    public var report: CommissioningReport?
    /// For `scan`: the protocol to scan for (default Modbus): `iec62056-21` probes `deviceAddresses`
    /// with an addressed sign-on, `dlms` probes HDLC server addresses (`addresses`, 16–16381).
    public var meterProtocol: MeterProtocolKind?
    /// For an IEC 62056-21 `scan`: the device addresses to probe.
    public var deviceAddresses: [String]?
    /// For `schedule.set`: the change as the verb's `args`, JSON text (Docs/mqtt-api.md §11.4).
    public var arguments: String?

    public init(op: String, meter: MeterID? = nil, quantities: [QuantityID]? = nil, bus: BusName? = nil, from: Int? = nil,
                to: Int? = nil, timeoutMilliseconds: Int? = nil, connected: Bool? = nil, limit: Int? = nil,
                durationMilliseconds: Int? = nil, addresses: [Int]? = nil, line: ControlLineSettings? = nil,
                meters: [MeterID]? = nil, installer: String? = nil, note: String? = nil, enrol: Bool? = nil,
                report: CommissioningReport? = nil, meterProtocol: MeterProtocolKind? = nil, deviceAddresses: [String]? = nil,
                arguments: String? = nil) {
        self.op = op
        self.meter = meter
        self.quantities = quantities
        self.bus = bus
        self.from = from
        self.to = to
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connected = connected
        self.limit = limit
        self.durationMilliseconds = durationMilliseconds
        self.addresses = addresses
        self.line = line
        self.meters = meters
        self.installer = installer
        self.note = note
        self.enrol = enrol
        self.report = report
        self.meterProtocol = meterProtocol
        self.deviceAddresses = deviceAddresses
        self.arguments = arguments
    }
}

/// A failure answered on the control socket: a stable code and a message for people.
public struct ControlFailure: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Stable codes: bad-request, unknown-op, unknown-meter, unknown-bus, bus-busy, meter-error,
    /// port-unavailable, unsupported, cancelled, stopping, internal, test-hooks-disabled; for
    /// `uplink.check`: no-uplink, no-ack, not-connected, not-registered.
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) [\(code)]" }
}

/// One line answered on the control socket. Long operations (scan, poll, uplink.check) send
/// progress lines (`done: false`) first; the last line has `done: true`. On a progress line of
/// `uplink.check`, `error` is the cause the check is waiting on (`connecting`, `waiting-for-ack`,
/// `not-registered`), not a failure.
public struct ControlReply: Hashable, Sendable, Codable {
    public var done: Bool
    public var error: ControlFailure?
    public var progress: ScanProgress?
    public var status: AgentStatus?
    public var snapshot: MeterSnapshot?
    public var scan: [ScanHit]?
    public var relayConnected: Bool?
    public var events: [GatewayEvent]?
    /// For `audit`: the newest commands, newest first.
    public var audit: [CommandAuditRecord]?
    /// A one-line outcome for people (for example what a reload changed).
    public var message: String?
    /// For `uplink.check`: the time from queueing the test batch to the head-end's verified ack.
    public var roundTripMilliseconds: Int?
    /// For `poll`: one result per meter, in configuration order.
    public var poll: [MeterPollResult]?

    public init(done: Bool = true, error: ControlFailure? = nil, progress: ScanProgress? = nil, status: AgentStatus? = nil,
                snapshot: MeterSnapshot? = nil, scan: [ScanHit]? = nil, relayConnected: Bool? = nil, events: [GatewayEvent]? = nil,
                audit: [CommandAuditRecord]? = nil, message: String? = nil, roundTripMilliseconds: Int? = nil,
                poll: [MeterPollResult]? = nil) {
        self.done = done
        self.error = error
        self.progress = progress
        self.status = status
        self.snapshot = snapshot
        self.scan = scan
        self.relayConnected = relayConnected
        self.events = events
        self.audit = audit
        self.message = message
        self.roundTripMilliseconds = roundTripMilliseconds
        self.poll = poll
    }
}

/// One command from the head-end as the audit log keeps it (Docs/mqtt-api.md §11.7): who signed it,
/// what it asked, and the reply code. Arguments never contain secrets.
public struct CommandAuditRecord: Hashable, Sendable, Codable {
    public var time: Timestamp
    public var commandID: String?
    public var keyID: String
    public var role: String
    public var verb: String
    public var arguments: String
    /// The reply code (`ok`, `replayed`, …), or `duplicate` for a resend answered from the stored reply.
    public var result: String
    public var message: String

    public init(time: Timestamp, commandID: String?, keyID: String, role: String, verb: String, arguments: String, result: String,
                message: String) {
        self.time = time
        self.commandID = commandID
        self.keyID = keyID
        self.role = role
        self.verb = verb
        self.arguments = arguments
        self.result = result
        self.message = message
    }
}
