import ConcentratorCore
import FoundationEssentials

/// The retained status document on `<prefix>/<device>/status` (Docs/mqtt-api.md, "Status document").
/// Informational only: neither sealed nor signed.
public struct UplinkStatusDocument: Hashable, Sendable, Codable {
    /// One bus's health.
    public struct Bus: Hashable, Sendable, Codable {
        public var name: String
        public var portOpen: Bool
        public var metersAnswering: Int
        public var meters: Int

        public init(name: String, portOpen: Bool, metersAnswering: Int, meters: Int) {
            self.name = name
            self.portOpen = portOpen
            self.metersAnswering = metersAnswering
            self.meters = meters
        }
    }

    public var v = 1
    public var device: String
    /// `online` or `offline`.
    public var state: String
    /// For `offline`: whether the device went away without saying so (the last will).
    public var unexpected: Bool?
    public var since: String?
    public var agent: String?
    public var uptimeSeconds: Int64?
    public var buses: [Bus]?
    /// The newest batch sequence sealed.
    public var lastSequence: Int64?
    /// Unacknowledged batches.
    public var pending: Int?
    public var oldestUnacknowledgedInterval: String?
    /// Unacknowledged batches dropped because they fell out of the retention, since the agent started.
    public var droppedUnsent: Int?
    /// The mesh (role, route, relay queue, duty budget, time source) when the device runs one.
    public var mesh: MeshState?

    public init(device: String, state: String, unexpected: Bool? = nil) {
        self.device = device
        self.state = state
        self.unexpected = unexpected
    }

    /// Parses a status payload (the head-end's side); nil when it is not a version 1 document with a
    /// device and a state `online` or `offline` (an empty payload clears a retained message and is no
    /// document either). Unknown members are ignored.
    public static func parse(_ payload: [UInt8]) -> UplinkStatusDocument? {
        guard !payload.isEmpty, payload.count <= 16_384,
              let document = try? JSONDecoder().decode(UplinkStatusDocument.self, from: Data(payload)),
              document.v == 1, document.state == "online" || document.state == "offline" else { return nil }
        return document
    }

    /// `since` as a time, when it parses.
    public var sinceTime: Timestamp? { since.flatMap(ISO8601.parse) }
    /// `oldestUnacknowledgedInterval` as a time, when it parses.
    public var oldestUnacknowledgedTime: Timestamp? { oldestUnacknowledgedInterval.flatMap(ISO8601.parse) }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? []
    }
}
