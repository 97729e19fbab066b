import ConcentratorCore

/// A wireless meter the configuration names: who it is, its key, and its profile section.
public struct WirelessMeterEntry: Sendable {
    public var meter: MeterID
    public var address: MBusSecondaryAddress
    public var key: MeterKey?
    public var map: MBusRecordMap?

    public init(meter: MeterID, address: MBusSecondaryAddress, key: MeterKey?, map: MBusRecordMap? = nil) {
        self.meter = meter
        self.address = address
        self.key = key
        self.map = map
    }
}

/// A meter that was heard but is not configured: what the installer sees to adopt it.
public struct HeardMeter: Hashable, Sendable {
    public var identity: MBusIdentity
    public var lastRSSI: Int?
    public var count: Int
    public var firstHeard: Timestamp
    public var lastHeard: Timestamp
    /// The security mode of its last telegram (0 plain, 5, 7): whether adopting it needs a key.
    public var securityMode: UInt8?
}

/// The "heard but not configured" list: one entry per identity, bounded (the least recently heard
/// entry makes room), so a dense neighbourhood cannot grow the agent's memory. Pure.
public struct HeardMeterList: Sendable {
    public let capacity: Int
    private var byIdentity: [MBusIdentity: HeardMeter] = [:]

    public init(capacity: Int = 256) { self.capacity = max(1, capacity) }

    public var count: Int { byIdentity.count }

    /// Counts one telegram from `identity`.
    @discardableResult
    public mutating func record(_ identity: MBusIdentity, rssi: Int?, at time: Timestamp, securityMode: UInt8?) -> HeardMeter {
        var entry = byIdentity[identity]
            ?? HeardMeter(identity: identity, lastRSSI: nil, count: 0, firstHeard: time, lastHeard: time, securityMode: nil)
        entry.count += 1
        entry.lastHeard = max(entry.lastHeard, time)
        if let rssi { entry.lastRSSI = rssi }
        if let securityMode { entry.securityMode = securityMode }
        if byIdentity[identity] == nil, byIdentity.count >= capacity,
           let oldest = byIdentity.values.min(by: { ($0.lastHeard, $0.identity) < ($1.lastHeard, $1.identity) }) {
            byIdentity[oldest.identity] = nil
        }
        byIdentity[identity] = entry
        return entry
    }

    /// Forgets a meter (after it was adopted into the configuration).
    public mutating func remove(_ identity: MBusIdentity) { byIdentity[identity] = nil }

    /// The entries, strongest signal first (the installer's nearest meters on top), then by id.
    public var entries: [HeardMeter] {
        byIdentity.values.sorted { a, b in
            let ra = a.lastRSSI ?? Int.min, rb = b.lastRSSI ?? Int.min
            return ra != rb ? ra > rb : a.identity < b.identity
        }
    }
}

/// What one received frame turned into.
public enum WirelessReception: Sendable {
    /// A configured meter's telegram, decoded (and its profile's quantities, when it has a profile).
    case reading(meter: MeterID, telegram: WirelessTelegram, values: MBusProfileReading?, rssiDBm: Int?)
    /// A configured meter's telegram that could not be decoded: wrong key, missing key, malformed.
    case failed(meter: MeterID, identity: MBusIdentity, error: MBusTelegramError)
    /// A meter that is not configured (counted in the heard list).
    case heard(HeardMeter)
    /// A frame that is not a wireless M-Bus telegram at all (bad CRC, truncated, unknown layers).
    case undecodable(String)
}

/// Routes received frames to configured meters, decrypting with each meter's own key, and keeps
/// the heard list of the others. One meter's wrong key or broken telegram never affects another.
/// Pure: time is passed in.
public struct WirelessMeterRouter: Sendable {
    private let entries: [WirelessMeterEntry]
    private let byNumber: [UInt32: [Int]]
    private let cipher: any OMSCipher
    public private(set) var heard: HeardMeterList
    public private(set) var framesReceived = 0
    public private(set) var framesUndecodable = 0

    public init(meters: [WirelessMeterEntry], cipher: any OMSCipher, heardCapacity: Int = 256) {
        entries = meters
        var index: [UInt32: [Int]] = [:]
        for (i, m) in meters.enumerated() {
            let number = m.address.digits.reduce(UInt32(0)) { $0 << 4 | UInt32($1 ?? 0xF) }
            index[number, default: []].append(i)
        }
        byNumber = index
        self.cipher = cipher
        heard = HeardMeterList(capacity: heardCapacity)
    }

    /// The configured entry for a meter identity, if any.
    public func entry(for identity: MBusIdentity) -> WirelessMeterEntry? {
        byNumber[identity.number]?.lazy.map { entries[$0] }.first { $0.address.matches(identity) }
    }

    public mutating func receive(_ frame: ReceivedRadioFrame, at time: Timestamp) -> WirelessReception {
        framesReceived += 1
        let layers: WirelessTelegramLayers
        do {
            layers = try WirelessTelegramDecoder.peel(try WirelessLinkFrame.decode(frame.bytes, crc: frame.crc))
        } catch let error as WirelessFrameError {
            framesUndecodable += 1
            return .undecodable(error.detail)
        } catch let error as MBusTelegramError {
            framesUndecodable += 1
            return .undecodable(error.description)
        } catch {
            framesUndecodable += 1
            return .undecodable("\(error)")
        }
        guard let entry = entry(for: layers.meter) else {
            let mode = try? MBusTransportHeader.parse(layers.frame.bytes, at: layers.transportOffset).configuration?.securityMode
            return .heard(heard.record(layers.meter, rssi: frame.rssiDBm, at: time, securityMode: mode ?? 0))
        }
        do {
            let telegram = try WirelessTelegramDecoder.decode(layers, key: entry.key, cipher: cipher)
            let values = entry.map.map { MBusProfileDecoder.read(telegram.records, map: $0) }
            return .reading(meter: entry.meter, telegram: telegram, values: values, rssiDBm: frame.rssiDBm)
        } catch {
            return .failed(meter: entry.meter, identity: layers.meter, error: error)
        }
    }
}
