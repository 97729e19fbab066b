import ConcentratorCore
import MeterProtocols

/// A telegram on the air: when, from which meter, in which mode, and the CRC-less frame.
public struct AiredTelegram: Hashable, Sendable {
    public var secondsAfterOrigin: Double
    public var meterIndex: Int
    public var linkMode: WirelessLinkMode
    public var rssiDBm: Int
    public var frame: [UInt8]
}

/// N wireless meters sending on their own schedules (seconds to hours apart), mixed security.
/// `telegrams(upTo:)` hands out, in time order, every telegram due up to a point of the schedule.
/// Pure: the caller says what time it is.
public struct WirelessMeterField: Sendable {
    public private(set) var meters: [SimulatedWirelessMeter]
    private var sent: [Int]
    private let cipher: any OMSCipher
    /// The wall-clock time of second 0 of the schedule (dates the values).
    public let origin: Timestamp

    public init(meters: [WirelessMeterSetup], seed: UInt64, origin: Timestamp, cipher: any OMSCipher = SwiftCryptoOMSCipher()) {
        self.meters = meters.map { SimulatedWirelessMeter(setup: $0, seed: seed) }
        sent = Array(repeating: 0, count: meters.count)
        self.cipher = cipher
        self.origin = origin
    }

    /// When the next telegram is due (seconds after the origin), or nil with no meters.
    public var nextDue: Double? {
        meters.indices.map { meters[$0].sendTime(sent[$0]) }.min()
    }

    /// Every telegram due at or before `seconds`, in time order.
    public mutating func telegrams(upTo seconds: Double) -> [AiredTelegram] {
        var out: [AiredTelegram] = []
        while let next = meters.indices.min(by: { meters[$0].sendTime(sent[$0]) < meters[$1].sendTime(sent[$1]) }),
              meters[next].sendTime(sent[next]) <= seconds {
            let at = meters[next].sendTime(sent[next])
            let time = origin.adding(milliseconds: Int64(at * 1000))
            let frame = meters[next].nextFrame(at: time, cipher: cipher)
            let setup = meters[next].setup
            out.append(AiredTelegram(secondsAfterOrigin: at, meterIndex: next, linkMode: setup.linkMode, rssiDBm: setup.rssiDBm,
                                     frame: frame))
            sent[next] += 1
        }
        return out
    }
}

/// The iM871A's side of its serial protocol, for the simulator: answers PING and SET_CONFIG,
/// listens in the configured link mode (T1 until told otherwise), and frames each telegram it
/// hears as a WMBUSMSG_IND with the RSSI and the CRC attached. Bytes in, bytes out.
public struct IM871AEmulator: Sendable {
    public private(set) var mode: WirelessLinkMode = .t1
    public private(set) var configurations = 0
    private var buffer: [UInt8] = []

    public init() {}

    /// Bytes the host wrote; returns the receiver's answers.
    public mutating func hostWrote(_ bytes: [UInt8]) -> [UInt8] {
        buffer += bytes
        var out: [UInt8] = []
        while let start = buffer.firstIndex(of: IM871AMessage.startOfFrame) {
            if start > 0 { buffer.removeFirst(start) }
            guard buffer.count >= 4 else { break }
            let flags = buffer[1] >> 4
            let length = 4 + Int(buffer[3]) + (flags & 0x2 != 0 ? 4 : 0) + (flags & 0x4 != 0 ? 1 : 0) + (flags & 0x8 != 0 ? 2 : 0)
            guard buffer.count >= length else { break }
            let raw = Array(buffer[0..<length])
            buffer.removeFirst(length)
            guard let message = IM871AProtocol.decodeMessage(raw) else { continue }
            out += answer(message)
        }
        if buffer.count > 512 { buffer = [] }
        return out
    }

    private mutating func answer(_ m: IM871AMessage) -> [UInt8] {
        guard m.endpoint == IM871AMessage.deviceManagement else { return [] }
        switch m.messageID {
        case IM871AMessage.pingRequest:
            return IM871AMessage(endpoint: IM871AMessage.deviceManagement, messageID: IM871AMessage.pingResponse).encode()
        case IM871AMessage.setConfigRequest:
            // NVM flag, IIFlag1, then the link mode when IIFlag1 bit 1 says it is there.
            var ok = m.payload.count >= 2
            if ok, m.payload[1] & 0x02 != 0 {
                let index = 2 + (m.payload[1] & 0x01 != 0 ? 1 : 0)
                if index < m.payload.count, let chosen = WirelessLinkMode.allCases.first(where: { IM871AMessage.linkModeCode($0) == m.payload[index] }) {
                    mode = chosen
                    configurations += 1
                } else {
                    ok = false
                }
            }
            return IM871AMessage(endpoint: IM871AMessage.deviceManagement, messageID: IM871AMessage.setConfigResponse,
                                 payload: [ok ? 0x00 : 0x01]).encode()
        default:
            return []
        }
    }

    /// Whether the receiver, in its current mode, hears a meter sending in `linkMode`.
    public func hears(_ linkMode: WirelessLinkMode) -> Bool {
        mode == .c1t1 || linkMode == mode || linkMode == .c1t1
    }

    /// The indication for a heard telegram (nil when the current mode does not hear it).
    public func indication(for telegram: AiredTelegram) -> [UInt8]? {
        guard hears(telegram.linkMode), telegram.frame.count > 1 else { return nil }
        return IM871AMessage(endpoint: IM871AMessage.radioLink, messageID: IM871AMessage.telegramIndication,
                             payload: Array(telegram.frame.dropFirst()), rssi: IM871AMessage.rawRSSI(dBm: telegram.rssiDBm),
                             withCRC: true).encode()
    }
}
