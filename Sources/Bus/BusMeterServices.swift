import ConcentratorCore

/// A meter's secrets as read from its key file (`<state>/keys/meters/<meter id>.json`, 0600):
/// byte strings by name. Profiles name a secret by key id (`guek`, `gak`, `p1`); a key file may
/// hold it under that id or under its kind (`encryption`, `authentication`, `password`), as the
/// console writes it. Its description never shows a secret.
public struct MeterSecrets: Sendable, CustomStringConvertible {
    private let values: [String: [UInt8]]

    public init(_ values: [String: [UInt8]]) { self.values = values }

    /// The secret named `id` by the profile, or the one of `kind` when the file has no such id.
    public func secret(id: String?, kind: String) -> [UInt8]? {
        if let id, let v = values[id] { return v }
        return values[kind]
    }

    /// The names present (never the values), for messages.
    public var names: [String] { values.keys.sorted() }

    public var description: String { "meter secrets (\(names.joined(separator: ", ")); values hidden)" }
}

/// Why a meter's secrets could not be had. Names the file and the flaw, never a secret.
public struct MeterSecretsProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Where a bus owner gets a meter's keys and passwords (the agent reads the key files).
public protocol MeterSecretSource: Sendable {
    func secrets(for meter: MeterID) -> Result<MeterSecrets, MeterSecretsProblem>
}

/// Hands out DLMS invocation counters that are durable before use (DESIGN rule 5): the store
/// raises the meter's persisted mark by `count` and returns the range above the old mark only
/// after the new mark is on disk. Counters of a range that are never used are skipped, not reused.
public protocol InvocationCounterStore: Sendable {
    func reserve(meter: MeterID, count: UInt32) throws -> ClosedRange<UInt32>
}

/// A meter clock the bus owner set: what it read, what it wrote, what it read back.
public struct MeterClockSetRecord: Hashable, Sendable {
    public var bus: BusName
    public var meter: MeterID
    public var before: MeterClockReading
    public var setTo: Timestamp
    public var after: MeterClockReading?
    /// Why: `threshold` (the configured policy during a cycle) or `command` (time.sync).
    public var reason: String
    /// The key ids the set used (never a key).
    public var keyIDs: [String]
}

/// What a bus owner needs beyond its port for meters with security: their secrets, durable DLMS
/// invocation counters, the client system title, and an audit sink for meter clocks it sets.
public struct BusMeterServices: Sendable {
    public var secrets: (any MeterSecretSource)?
    public var invocationCounters: (any InvocationCounterStore)?
    /// The 8-byte DLMS client system title (HLS); derived from the device id by default.
    public var clientSystemTitle: [UInt8]
    /// Called on the bus thread for every meter clock set (the agent writes an audit entry).
    public var auditClockSet: @Sendable (MeterClockSetRecord) -> Void

    public init(secrets: (any MeterSecretSource)? = nil, invocationCounters: (any InvocationCounterStore)? = nil,
                clientSystemTitle: [UInt8] = BusMeterServices.systemTitle(deviceID: "concentrator"),
                auditClockSet: @escaping @Sendable (MeterClockSetRecord) -> Void = { _ in }) {
        self.secrets = secrets
        self.invocationCounters = invocationCounters
        self.clientSystemTitle = clientSystemTitle
        self.auditClockSet = auditClockSet
    }

    /// No secrets, no counters: meters without security only.
    public static var none: BusMeterServices { BusMeterServices() }

    /// A DLMS system title for this gateway: the manufacturer letters `CNC`, then five bytes of the
    /// CRC-32 of the device id and its length, so that two gateways differ.
    public static func systemTitle(deviceID: String) -> [UInt8] {
        let bytes = Array(deviceID.utf8)
        let crc = CRC32.checksum(bytes)
        return Array("CNC".utf8) + [UInt8(truncatingIfNeeded: bytes.count), UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF),
                                    UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
    }
}
