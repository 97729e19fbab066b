/// The MQTT topics of one device, all under `<prefix>/<device>/` (prefix `concentrator/v1` unless the
/// configuration says otherwise). Docs/mqtt-api.md, "Topics".
public struct UplinkTopics: Hashable, Sendable {
    public static let prefix = "concentrator/v1"

    public let deviceID: String
    public let topicPrefix: String

    /// `deviceID` must satisfy `DeviceIdentifier.isValid` (so it is one topic level).
    public init?(deviceID: String, prefix: String = UplinkTopics.prefix) {
        guard DeviceIdentifier.isValid(deviceID) else { return nil }
        self.deviceID = deviceID
        topicPrefix = prefix
    }

    private func topic(_ leaf: String) -> String { "\(topicPrefix)/\(deviceID)/\(leaf)" }

    /// Up, QoS 1: interval and profile batches.
    public var batch: String { topic("batch") }
    /// Up, QoS 1: event batches (sent before queued interval batches).
    public var event: String { topic("event") }
    /// Up, QoS 1, retained: the status document; the same topic carries the last will.
    public var status: String { topic("status") }
    /// Up, QoS 1: signed replies to commands.
    public var reply: String { topic("reply") }
    /// Up, QoS 1: the signed enrolment request (Docs/mqtt-api.md §12).
    public var enrol: String { topic("enrol") }
    /// Down, QoS 1: signed commands from the head-end.
    public var command: String { topic("cmd") }
    /// Down, QoS 1: signed batch acks from the head-end.
    public var ack: String { topic("ack") }

    /// What a head-end subscribes to for all devices: `concentrator/v1/+/<leaf>`.
    public static func allDevices(_ leaf: String, prefix: String = UplinkTopics.prefix) -> String { "\(prefix)/+/\(leaf)" }
}
