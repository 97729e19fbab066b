import ConcentratorCore

/// A device's retained status document (Docs/mqtt-api.md §7): informational and unsigned, so the
/// head-end only displays it and never acts on it.
public struct DeviceStatusDocument: Hashable, Sendable {
    public var device: String
    /// `online` or `offline`.
    public var state: String
    public var since: Timestamp?
    /// For `offline`: true when the broker published the last will (the device vanished).
    public var unexpected: Bool?
    public var agent: String?
    /// The newest batch sequence the device has sealed.
    public var lastSequence: UInt64?
    /// Unacknowledged batches in the device's outbox.
    public var pending: Int?
    /// The start of the oldest interval still in the outbox, when the device reports it.
    public var oldestPending: Timestamp?

    public init(device: String, state: String, since: Timestamp? = nil, unexpected: Bool? = nil, agent: String? = nil,
                lastSequence: UInt64? = nil, pending: Int? = nil, oldestPending: Timestamp? = nil) {
        self.device = device
        self.state = state
        self.since = since
        self.unexpected = unexpected
        self.agent = agent
        self.lastSequence = lastSequence
        self.pending = pending
        self.oldestPending = oldestPending
    }

    /// Parses a status payload; nil when it is not a version 1 document with a device and a state
    /// (an empty payload clears a retained message and is no document either). Unknown members are ignored.
    public static func parse(_ payload: [UInt8]) -> DeviceStatusDocument? {
        guard !payload.isEmpty, payload.count <= 16_384, let json = try? JSONParser.parse(payload) else { return nil }
        guard json["v"]?.intValue == 1, let device = json["device"]?.stringValue, let state = json["state"]?.stringValue,
              state == "online" || state == "offline" else { return nil }
        var document = DeviceStatusDocument(device: device, state: state)
        document.since = json["since"]?.stringValue.flatMap(ISO8601.parse)
        document.unexpected = json["unexpected"]?.boolValue
        document.agent = json["agent"]?.stringValue.map { String($0.prefix(64)) }
        if let n = json["lastSequence"]?.intValue, n >= 0 { document.lastSequence = UInt64(n) }
        if let n = json["pending"]?.intValue, n >= 0 { document.pending = n }
        document.oldestPending = json["oldestPending"]?.stringValue.flatMap(ISO8601.parse)
        return document
    }
}
