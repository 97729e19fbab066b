import ConcentratorCore

/// CRC-16/X-25 (CRC-16/IBM-SDLC): reflected polynomial 0x8408, initial 0xFFFF, final XOR 0xFFFF.
/// Check value: CRC of ASCII "123456789" is 0x906E. The iM871A appends it least significant byte first.
public enum CRC16X25 {
    private static let table: [UInt16] = (0..<256).map { n in
        var c = UInt16(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x8408 : c >> 1 }
        return c
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
        var crc: UInt16 = 0xFFFF
        for b in bytes { crc = (crc >> 8) ^ table[Int(UInt8(crc & 0xFF) ^ b)] }
        return crc ^ 0xFFFF
    }
}

/// One message of the IMST iM871A host controller interface (WMBus HCI): start of frame 0xA5, a
/// control/endpoint byte (high nibble: 0x2 timestamp, 0x4 RSSI, 0x8 CRC attached; low nibble: the
/// endpoint), the message id, the payload length, the payload, then the optional 4-byte timestamp,
/// RSSI byte and CRC-16/X-25 over everything after the start byte. Docs/mbus.md, "Receiver".
public struct IM871AMessage: Hashable, Sendable {
    public static let startOfFrame: UInt8 = 0xA5
    /// Endpoints.
    public static let deviceManagement: UInt8 = 0x01
    public static let radioLink: UInt8 = 0x02
    /// Device-management message ids.
    public static let pingRequest: UInt8 = 0x01
    public static let pingResponse: UInt8 = 0x02
    public static let setConfigRequest: UInt8 = 0x03
    public static let setConfigResponse: UInt8 = 0x04
    public static let getConfigRequest: UInt8 = 0x05
    public static let getConfigResponse: UInt8 = 0x06
    /// Radio-link message id: a received wireless M-Bus message (indication).
    public static let telegramIndication: UInt8 = 0x03
    /// Link modes of SET_CONFIG (the receiver's numbering): T1 3, C1 (format A receiver setting) 6,
    /// C1 and T1 together 10 (firmware 1.4 and later).
    public static func linkModeCode(_ mode: WirelessLinkMode) -> UInt8 {
        switch mode {
        case .t1: return 0x03
        case .c1: return 0x06
        case .c1t1: return 0x0A
        }
    }

    public var endpoint: UInt8
    public var messageID: UInt8
    public var payload: [UInt8]
    public var timestamp: UInt32?
    /// The raw RSSI byte (the module's scale, see `rssiDBm`).
    public var rssi: UInt8?
    public var withCRC: Bool

    public init(endpoint: UInt8, messageID: UInt8, payload: [UInt8] = [], timestamp: UInt32? = nil, rssi: UInt8? = nil,
                withCRC: Bool = false) {
        self.endpoint = endpoint
        self.messageID = messageID
        self.payload = payload
        self.timestamp = timestamp
        self.rssi = rssi
        self.withCRC = withCRC
    }

    /// The bytes on the serial line.
    public func encode() -> [UInt8] {
        precondition(payload.count <= 255, "an HCI payload is at most 255 bytes")
        let flags: UInt8 = (timestamp == nil ? 0 : 0x2) | (rssi == nil ? 0 : 0x4) | (withCRC ? 0x8 : 0)
        var w = ByteWriter(capacity: payload.count + 12)
        w.u8(Self.startOfFrame)
        w.u8(flags << 4 | endpoint & 0x0F)
        w.u8(messageID)
        w.u8(UInt8(payload.count))
        w.raw(payload)
        if let timestamp { w.littleEndian(timestamp) }
        if let rssi { w.u8(rssi) }
        var bytes = w.bytes
        if withCRC {
            let crc = CRC16X25.checksum(bytes[1...])
            bytes += [UInt8(crc & 0xFF), UInt8(crc >> 8)]
        }
        return bytes
    }

    /// RSSI in dBm from the raw byte: the linear fit through −100 dBm at 45 and −20 dBm at 205
    /// (the Si1002 radio's RSSI curve, as wmbusmeters reads it), 0 dBm from 230 up. Approximate.
    public static func rssiDBm(_ raw: UInt8) -> Int {
        if raw >= 230 { return 0 }
        return Int((-100 + 0.5 * (Double(raw) - 45)).rounded(.towardZero))
    }

    /// The raw byte for a dBm value (the simulator's receiver reports with it).
    public static func rawRSSI(dBm: Int) -> UInt8 { UInt8(clamping: Int((Double(dBm) + 100) * 2 + 45)) }
}

/// The iM871A's side of `WirelessReceiverProtocol`: an incremental HCI decoder (any split, noise
/// before a start byte skipped, CRC checked when attached) and the SET_CONFIG command. 57600 8N1.
public struct IM871AProtocol: WirelessReceiverProtocol {
    public static let line = LineSettings(baud: 57_600, dataBits: 8, parity: .none, stopBits: 1)
    public static let name = "im871a"
    /// The largest message: 4 header + 255 payload + 4 timestamp + 1 RSSI + 2 CRC.
    static let maximumMessage = 266

    private var buffer: [UInt8] = []

    public init() {}

    /// Bytes held for an incomplete message.
    public var pendingCount: Int { buffer.count }

    public func configurationCommand(for mode: WirelessLinkMode) -> (bytes: [UInt8], confirmation: String) {
        // SET_CONFIG_REQ: not stored in flash (0), IIFlag1 = link mode present, the mode,
        // IIFlag2 = RSSI and timestamp attachment present, RSSI on, timestamp off.
        let payload: [UInt8] = [0x00, 0x02, IM871AMessage.linkModeCode(mode), 0x30, 0x01, 0x00]
        return (IM871AMessage(endpoint: IM871AMessage.deviceManagement, messageID: IM871AMessage.setConfigRequest,
                              payload: payload).encode(), "set-config")
    }

    /// A ping (liveness check); its confirmation is `ping`.
    public static func pingCommand() -> [UInt8] {
        IM871AMessage(endpoint: IM871AMessage.deviceManagement, messageID: IM871AMessage.pingRequest).encode()
    }

    /// Decodes one whole message (for the simulator's side and tests); nil when it is not exactly one.
    public static func decodeMessage(_ bytes: [UInt8]) -> IM871AMessage? {
        guard case .message(let m, let length)? = IM871AProtocol().next(in: bytes), length == bytes.count else { return nil }
        return m
    }

    public mutating func receive(_ bytes: [UInt8]) -> [WirelessReceiverEvent] {
        buffer += bytes
        var events: [WirelessReceiverEvent] = []
        while !buffer.isEmpty {
            switch next(in: buffer) {
            case nil:
                return events
            case .skip(let count, let reason)?:
                buffer.removeFirst(count)
                if case .discarded(let n, let r)? = events.last, r == reason {
                    events[events.count - 1] = .discarded(count: n + count, reason: reason)
                } else {
                    events.append(.discarded(count: count, reason: reason))
                }
            case .message(let message, let length)?:
                buffer.removeFirst(length)
                if let event = Self.event(for: message) { events.append(event) }
            }
        }
        return events
    }

    private enum Step {
        case message(IM871AMessage, length: Int)
        case skip(Int, reason: String)
    }

    /// What the buffer starts with; nil when more bytes are needed.
    private func next(in b: [UInt8]) -> Step? {
        guard let first = b.first else { return nil }
        guard first == IM871AMessage.startOfFrame else {
            let count = b.firstIndex(of: IM871AMessage.startOfFrame) ?? b.count
            return .skip(count, reason: "no start byte A5")
        }
        guard b.count >= 4 else { return nil }
        let flags = b[1] >> 4
        let endpoint = b[1] & 0x0F
        guard flags & 0x1 == 0, (1...4).contains(endpoint) else { return .skip(1, reason: "not an HCI header") }
        let payloadLength = Int(b[3])
        let length = 4 + payloadLength + (flags & 0x2 != 0 ? 4 : 0) + (flags & 0x4 != 0 ? 1 : 0) + (flags & 0x8 != 0 ? 2 : 0)
        guard b.count >= length else { return nil }
        var position = 4 + payloadLength
        let payload = Array(b[4..<position])
        var timestamp: UInt32?
        if flags & 0x2 != 0 {
            timestamp = UInt32(MBusDataCoding.unsignedInteger(b[position..<(position + 4)]))
            position += 4
        }
        var rssi: UInt8?
        if flags & 0x4 != 0 {
            rssi = b[position]
            position += 1
        }
        if flags & 0x8 != 0 {
            let sent = UInt16(b[position]) | UInt16(b[position + 1]) << 8
            guard CRC16X25.checksum(b[1..<position]) == sent else { return .skip(1, reason: "HCI CRC mismatch") }
        }
        return .message(IM871AMessage(endpoint: endpoint, messageID: b[2], payload: payload, timestamp: timestamp, rssi: rssi,
                                      withCRC: flags & 0x8 != 0), length: length)
    }

    private static func event(for m: IM871AMessage) -> WirelessReceiverEvent? {
        switch (m.endpoint, m.messageID) {
        case (IM871AMessage.radioLink, IM871AMessage.telegramIndication):
            // The payload is the frame from its C field, CRCs removed; the L field is its length.
            guard !m.payload.isEmpty else { return .discarded(count: 4, reason: "empty telegram indication") }
            return .telegram(ReceivedRadioFrame(bytes: [UInt8(m.payload.count)] + m.payload, crc: .absent,
                                                rssiDBm: m.rssi.map(IM871AMessage.rssiDBm)))
        case (IM871AMessage.deviceManagement, IM871AMessage.setConfigResponse):
            return .confirmation(command: "set-config", ok: m.payload.first.map { $0 == 0 } ?? true)
        case (IM871AMessage.deviceManagement, IM871AMessage.pingResponse):
            return .confirmation(command: "ping", ok: true)
        default:
            return nil
        }
    }
}
