/// Line settings carried by a control request: a scan with the working copy's settings before they
/// are applied (the bus owner switches the line for the scan only).
public struct ControlLineSettings: Hashable, Sendable, Codable {
    public var baud: Int
    public var dataBits: Int
    /// `none`, `even` or `odd`.
    public var parity: String
    public var stopBits: Int

    public init(_ line: LineSettings) {
        baud = line.baud
        dataBits = line.dataBits
        parity = line.parity.rawValue
        stopBits = line.stopBits
    }

    /// The settings, or nil when a field is outside what a bus may use.
    public var lineSettings: LineSettings? {
        guard ConfigurationLoader.standardBaudRates.contains(baud), [7, 8].contains(dataBits), [1, 2].contains(stopBits),
              let parity = Parity(rawValue: parity) else { return nil }
        return LineSettings(baud: baud, dataBits: dataBits, parity: parity, stopBits: stopBits)
    }
}

/// One meter's outcome of a commissioning poll ("poll now", control operation `poll`): whether it
/// answered, how many values it gave, whether they are plausible, how fast, and why it failed.
public struct MeterPollResult: Hashable, Sendable, Codable {
    public var meter: MeterID
    public var bus: BusName
    public var address: String
    public var profile: String
    /// A usable answer arrived (values may still carry errors).
    public var answered: Bool
    /// Values read as numbers.
    public var values: Int
    /// Values that came back with an error code instead of a number.
    public var errors: Int
    /// Quantities whose value lies outside the plausible range of the quantity catalog.
    public var outside: [QuantityID]
    /// From the first request to the last answer (or the last timeout).
    public var responseMilliseconds: Int
    /// Why the meter gave no usable answer (or the first value error).
    public var failure: String?
    /// Stored in the archive by this poll (and so queued for the head-end). False when the
    /// interval already had a snapshot of this meter, or the poll ran without the agent.
    public var archived: Bool
    /// The interval's snapshot was archived before (by the schedule) and this poll queued it for the
    /// head-end again, so that it sees this meter at once even when that snapshot was never sent
    /// (archived before the uplink was configured).
    public var resent: Bool = false
    /// The archive interval the snapshot belongs to.
    public var intervalStart: Timestamp

    public init(meter: MeterID, bus: BusName, address: String, profile: String, answered: Bool, values: Int, errors: Int,
                outside: [QuantityID], responseMilliseconds: Int, failure: String?, archived: Bool, intervalStart: Timestamp) {
        self.meter = meter
        self.bus = bus
        self.address = address
        self.profile = profile
        self.answered = answered
        self.values = values
        self.errors = errors
        self.outside = outside
        self.responseMilliseconds = responseMilliseconds
        self.failure = failure
        self.archived = archived
        self.intervalStart = intervalStart
    }

    /// The result for `snapshot`, judged against the quantity catalog's plausible ranges.
    public init(snapshot: MeterSnapshot, bus: BusName, address: String, profile: String, answered: Bool,
                responseMilliseconds: Int, failure: String?, archived: Bool) {
        let numbers = snapshot.values.filter { $0.value != nil }
        let outside = numbers.filter { v in
            guard let value = v.value, let definition = QuantityCatalog.definition(of: v.quantity) else { return false }
            return !definition.plausible.contains(value)
        }.map(\.quantity)
        let firstError = snapshot.values.first { $0.error != nil }.flatMap { v in v.error.map { "\(v.quantity): \($0)" } }
        self.init(meter: snapshot.meter, bus: bus, address: address, profile: profile, answered: answered, values: numbers.count,
                  errors: snapshot.values.count - numbers.count, outside: outside, responseMilliseconds: responseMilliseconds,
                  failure: failure ?? (answered ? firstError : nil), archived: archived, intervalStart: snapshot.intervalStart)
    }

    /// Answered, every value a plausible number.
    public var isGood: Bool { answered && errors == 0 && outside.isEmpty && values > 0 }

    /// One word for tables: `ok`, `errors`, `implausible`, `NO ANSWER`.
    public var status: String {
        if !answered { return "NO ANSWER" }
        if errors > 0 { return "ERRORS" }
        if !outside.isEmpty { return "OUTSIDE" }
        return values > 0 ? "ok" : "NO VALUES"
    }
}

/// A public key in a commissioning report: what the head-end operator compares.
public struct ReportedKey: Hashable, Sendable, Codable {
    public var role: String
    public var algorithm: String
    public var id: String
    public var fingerprint: String

    public init(role: String, algorithm: String, id: String, fingerprint: String) {
        self.role = role
        self.algorithm = algorithm
        self.id = id
        self.fingerprint = fingerprint
    }
}

/// One bus in a commissioning report.
public struct ReportedBus: Hashable, Sendable, Codable {
    public var name: String
    public var device: String
    public var line: String
    public var configured: Int
    public var answered: Int

    public init(name: String, device: String, line: String, configured: Int, answered: Int) {
        self.name = name
        self.device = device
        self.line = line
        self.configured = configured
        self.answered = answered
    }
}

/// The installer's proof that a gateway works: who commissioned it when, its keys, every bus and
/// meter with the poll-now outcome, and the uplink test. Saved as JSON and text in
/// `<state>/commissioning/`, and sent to the head-end as event `commissioning_report` (kind 81) with
/// the compact summary `eventText` (Docs/mqtt-api.md §5.1).
public struct CommissioningReport: Hashable, Sendable, Codable {
    public static let format = "concentrator-commissioning-report/1"

    public var format: String
    public var device: String
    public var time: Timestamp
    public var installer: String
    public var note: String?
    public var agentVersion: String?
    public var keys: [ReportedKey]
    public var buses: [ReportedBus]
    public var meters: [MeterPollResult]
    /// When the poll the meters come from ran.
    public var polledAt: Timestamp?
    /// `passed`, `failed` or `not run`.
    public var uplinkResult: String
    public var uplinkDetail: String?

    public init(device: String, time: Timestamp, installer: String, note: String?, agentVersion: String?, keys: [ReportedKey],
                buses: [ReportedBus], meters: [MeterPollResult], polledAt: Timestamp?, uplinkResult: String, uplinkDetail: String?) {
        format = Self.format
        self.device = device
        self.time = time
        self.installer = installer
        self.note = note
        self.agentVersion = agentVersion
        self.keys = keys
        self.buses = buses
        self.meters = meters
        self.polledAt = polledAt
        self.uplinkResult = uplinkResult
        self.uplinkDetail = uplinkDetail
    }

    /// Meters that answered with usable values.
    public var answered: Int { meters.filter(\.answered).count }

    /// The file name stem in `<state>/commissioning/`: `report-20261121T103000Z`.
    public var fileStem: String {
        "report-" + ISO8601.format(Timestamp(seconds: time.seconds)).filter { $0 != "-" && $0 != ":" }
    }

    /// Most bytes of `eventText` (the event body's text limit, Docs/mqtt-api.md §5).
    public static let eventTextLimit = 1024

    /// The event's text: canonical JSON (keys sorted, no spaces) of at most 1024 bytes:
    /// `v`, `installer`, `time` (ms), `meters`, `answered`, `uplink`, `signingKey` (key id),
    /// `report` (the file stem), `note` (cut to 120 characters) and `failed` (meter ids that did not
    /// answer or answered badly, as many as fit, then `more` with the count left out).
    public var eventText: String {
        let bad = meters.filter { !$0.isGood }.map(\.meter.rawValue)
        let signing = keys.first { $0.algorithm == "ed25519" }?.id ?? ""
        var shown = bad
        while true {
            var members: [JSONMember] = [
                JSONMember(key: "answered", value: .number(Double(answered), text: String(answered))),
                JSONMember(key: "failed", value: .array(shown.map { .string($0) })),
                JSONMember(key: "installer", value: .string(String(installer.prefix(64)))),
                JSONMember(key: "meters", value: .number(Double(meters.count), text: String(meters.count))),
            ]
            if shown.count < bad.count {
                members.append(JSONMember(key: "more", value: .number(Double(bad.count - shown.count), text: String(bad.count - shown.count))))
            }
            if let note, !note.isEmpty { members.append(JSONMember(key: "note", value: .string(String(note.prefix(120))))) }
            members += [
                JSONMember(key: "report", value: .string(fileStem)),
                JSONMember(key: "signingKey", value: .string(signing)),
                JSONMember(key: "time", value: .number(Double(time.milliseconds), text: String(time.milliseconds))),
                JSONMember(key: "uplink", value: .string(uplinkResult)),
                JSONMember(key: "v", value: .number(1, text: "1")),
            ]
            let text = JSONWriter.render(.object(members), pretty: false)
            if text.utf8.count <= Self.eventTextLimit || shown.isEmpty { return text }
            shown.removeLast()
        }
    }
}
