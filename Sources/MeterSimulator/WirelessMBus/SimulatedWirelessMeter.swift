import ConcentratorCore
import MeterProtocols

/// The OMS security a simulated wireless meter uses.
public enum SimulatedWirelessSecurity: String, Hashable, Sendable, CaseIterable {
    /// No encryption (configuration field mode 0).
    case none
    /// Mode 5: AES-128-CBC, IV from M, A and the access number; short transport header.
    case mode5
    /// Mode 7: AFL with message counter and 8-byte CMAC, long transport header, keys derived by KDF-A.
    case mode7
}

/// How one simulated wireless M-Bus meter is set up.
public struct WirelessMeterSetup: Hashable, Sendable {
    public var identity: MBusIdentity
    public var map: MBusRecordMap
    public var security: SimulatedWirelessSecurity
    /// The meter's key (nil for `.none`).
    public var key: MeterKey?
    /// Seconds between two telegrams.
    public var intervalSeconds: Double
    /// Seconds after the schedule's origin of the first telegram.
    public var phaseSeconds: Double
    public var linkMode: WirelessLinkMode
    /// The signal strength the receiver reports for it.
    public var rssiDBm: Int

    public init(identity: MBusIdentity, map: MBusRecordMap, security: SimulatedWirelessSecurity, key: MeterKey?,
                intervalSeconds: Double, phaseSeconds: Double = 0, linkMode: WirelessLinkMode = .t1, rssiDBm: Int = -70) {
        self.identity = identity
        self.map = map
        self.security = security
        self.key = key
        self.intervalSeconds = max(0.1, intervalSeconds)
        self.phaseSeconds = max(0, phaseSeconds)
        self.linkMode = linkMode
        self.rssiDBm = rssiDBm
    }
}

/// One wireless M-Bus meter that sends on its own schedule: the frame (L C M A, then AFL for mode
/// 7, then the transport layer and the records, encrypted per its security). Frames are built
/// without data-link CRCs, as a receiver that checked and removed them delivers them.
public struct SimulatedWirelessMeter: Sendable {
    public let setup: WirelessMeterSetup
    public let model: MBusValueModel
    private var accessNumber: UInt8
    private var messageCounter: UInt32

    public init(setup: WirelessMeterSetup, seed: UInt64) {
        self.setup = setup
        model = MBusValueModel(seed: SeededRandom.mix(seed ^ UInt64(setup.identity.number) ^ 0x7E1E))
        let start = SeededRandom.mix(seed &+ UInt64(setup.identity.number))
        accessNumber = UInt8(truncatingIfNeeded: start)
        messageCounter = UInt32(truncatingIfNeeded: start >> 8) & 0xFFFF
    }

    /// The n-th send time (seconds after the origin).
    public func sendTime(_ n: Int) -> Double { setup.phaseSeconds + Double(n) * setup.intervalSeconds }

    /// The next telegram, CRC-less (L counts the bytes after L). `time` dates the values.
    public mutating func nextFrame(at time: Timestamp, cipher: any OMSCipher) -> [UInt8] {
        accessNumber &+= 1
        messageCounter &+= 1
        let records = MBusRecordEncoder.records(for: setup.map, model: model, at: time)
        let link = [0x44] + WirelessLinkFrame.address(setup.identity) // C = SND_NR
        var frame: [UInt8]
        switch setup.security {
        case .none:
            frame = link + [MBusCI.responseShortHeader, accessNumber, 0x00, 0x00, 0x00] + records
        case .mode5:
            let (blocks, encrypted) = encrypt(records, key: setup.key, iv: OMSSecurity.mode5IV(identity: setup.identity,
                                                                                               accessNumber: accessNumber), cipher: cipher)
            let configuration = UInt16(0x0500) | UInt16(blocks) << 4
            frame = link + [MBusCI.responseShortHeader, accessNumber, 0x00, UInt8(configuration & 0xFF), UInt8(configuration >> 8)]
                + encrypted
        case .mode7:
            let master = setup.key?.bytes ?? []
            let kenc = OMSSecurity.deriveKey(.encryptionFromMeter, master: master, messageCounter: messageCounter,
                                             meterNumber: setup.identity.number, cipher: cipher) ?? []
            let kmac = OMSSecurity.deriveKey(.macFromMeter, master: master, messageCounter: messageCounter,
                                             meterNumber: setup.identity.number, cipher: cipher) ?? []
            let (blocks, encrypted) = encrypt(records, key: MeterKey(bytes: kenc), iv: [UInt8](repeating: 0, count: 16), cipher: cipher)
            let configuration = UInt16(0x0700) | UInt16(blocks) << 4
            let transport = [MBusCI.responseLongHeader] + MBusTransportHeader.encode(setup.identity)
                + [accessNumber, 0x00, UInt8(configuration & 0xFF), UInt8(configuration >> 8), 0x10] + encrypted
            let fields = OMSAuthenticationFields(messageControl: 0x25, messageCounter: messageCounter, mac: [UInt8](repeating: 0, count: 8))
            let mac = OMSSecurity.mode7MAC(fields: fields, transportAndApplication: transport[...], macKey: kmac, cipher: cipher) ?? []
            var afl = ByteWriter(capacity: 17)
            afl.u8(0x90)
            afl.u8(15)                  // FCL 2 + MCL 1 + MCR 4 + MAC 8
            afl.littleEndian(UInt16(0x2C00)) // message control, counter and MAC present
            afl.u8(0x25)                // AES-CMAC-128, 8 bytes; message counter in the AFL
            afl.littleEndian(messageCounter)
            afl.raw(mac)
            frame = link + afl.bytes + transport
        }
        frame.insert(UInt8(frame.count), at: 0)
        return frame
    }

    /// 2F 2F, the records, 2F padding to whole blocks, encrypted: (blocks, bytes).
    private func encrypt(_ records: [UInt8], key: MeterKey?, iv: [UInt8], cipher: any OMSCipher) -> (Int, [UInt8]) {
        var plain = OMSSecurity.decryptionCheck + records
        while plain.count % 16 != 0 { plain.append(0x2F) }
        let blocks = min(15, plain.count / 16)
        let encrypted = cipher.encryptCBC(Array(plain[0..<(16 * blocks)]), key: key?.bytes ?? [], iv: iv) ?? []
        return (blocks, encrypted + plain[(16 * blocks)...])
    }
}
