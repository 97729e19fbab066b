import ConcentratorCore

/// A neighbour's address on one link.
public enum MeshLinkAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 address (host byte order) and UDP port.
    case ipv4(host: UInt32, port: UInt16)
    /// An endpoint of a simulated medium.
    case simulated(Int)
    /// A shared radio channel: every transmission reaches every receiver in range; frames name
    /// their receiver in the header instead.
    case radio

    public var description: String {
        switch self {
        case .ipv4(let host, let port):
            return "\(host >> 24).\((host >> 16) & 0xFF).\((host >> 8) & 0xFF).\(host & 0xFF):\(port)"
        case .simulated(let n): return "sim:\(n)"
        case .radio: return "radio"
        }
    }
}

/// Where a datagram goes.
public enum MeshLinkDestination: Hashable, Sendable {
    /// Every neighbour on the link (UDP broadcast, multicast or the configured peers; the radio channel).
    case broadcast
    case unicast(MeshLinkAddress)
}

/// One received datagram: a whole frame or a fragment, with where it came from when the link knows.
public struct MeshLinkDatagram: Hashable, Sendable {
    public var bytes: [UInt8]
    public var source: MeshLinkAddress
    public var receivedAt: Timestamp

    public init(bytes: [UInt8], source: MeshLinkAddress, receivedAt: Timestamp) {
        self.bytes = bytes
        self.source = source
        self.receivedAt = receivedAt
    }
}

/// What kind of link it is.
public enum MeshLinkKind: String, Hashable, Sendable {
    case simulated, udp
    case loraSerial = "lora-serial"
}

/// What the node must know of a link to use it: its MTU and, for a radio, the modulation (airtime)
/// and the duty-cycle limit it schedules within.
public struct MeshLinkProperties: Hashable, Sendable {
    public var name: String
    public var kind: MeshLinkKind
    /// Largest datagram the link carries; larger frames are fragmented.
    public var mtu: Int
    /// Set for radio links: airtime per datagram.
    public var modulation: LoRaModulation?
    /// Share of the rolling hour the radio may transmit (0.01 in 868.0–868.6 MHz); nil: unlimited.
    public var dutyCycle: Double?

    public init(name: String, kind: MeshLinkKind, mtu: Int, modulation: LoRaModulation? = nil, dutyCycle: Double? = nil) {
        self.name = name
        self.kind = kind
        self.mtu = mtu
        self.modulation = modulation
        self.dutyCycle = dutyCycle
    }

    /// Airtime of a datagram of `byteCount` bytes in microseconds (0 for links without a modulation).
    public func airtimeMicroseconds(byteCount: Int) -> Int64 {
        modulation?.airtimeMicroseconds(payloadBytes: byteCount) ?? 0
    }
}

/// Why a link could not send or start. Carries the link's name and what to check.
public enum MeshLinkError: Error, Hashable, Sendable, CustomStringConvertible {
    case closed(link: String)
    case tooLarge(link: String, bytes: Int, mtu: Int)
    /// The duty-cycle budget does not allow it now (the ledger's verdict).
    case dutyCycle(link: String, DutyCycleAdmission)
    /// The link's send queue is full (the radio is slower than the traffic).
    case queueFull(link: String)
    case io(link: String, detail: String)

    public var description: String {
        switch self {
        case .closed(let l): return "mesh link \(l) is closed"
        case .tooLarge(let l, let b, let m): return "mesh link \(l): datagram of \(b) bytes exceeds the MTU of \(m) bytes"
        case .dutyCycle(let l, let a): return "mesh link \(l): duty-cycle budget exhausted (\(a)); the frame waits"
        case .queueFull(let l): return "mesh link \(l): send queue full; the frame waits"
        case .io(let l, let d): return "mesh link \(l): \(d)"
        }
    }
}

/// Counters every link keeps.
public struct MeshLinkStatistics: Hashable, Sendable {
    public var datagramsSent = 0
    public var bytesSent = 0
    public var datagramsReceived = 0
    public var bytesReceived = 0
    /// Datagrams the link dropped itself (I/O errors, refused by the modem, queue overflow).
    public var datagramsDropped = 0
    /// Total airtime of what was sent, for radio links.
    public var airtimeMicroseconds: Int64 = 0

    public init() {}
}

/// One way to reach neighbours: a simulated medium, UDP on a LAN, or a LoRa modem on a serial port.
/// Links are dumb datagram carriers; framing, fragmentation, authentication, routing and scheduling
/// live in the pure `MeshNode`. Blocking I/O happens on the link's own dedicated thread; `send` is
/// called from the mesh's dedicated thread, never from Swift's cooperative pool.
public protocol MeshLink: AnyObject, Sendable {
    var properties: MeshLinkProperties { get }
    /// Starts receiving: `receive` is called for every datagram, on the link's thread.
    func start(receive: @escaping @Sendable (MeshLinkDatagram) -> Void) throws(MeshLinkError)
    /// Sends one datagram (at most `properties.mtu` bytes).
    func send(_ bytes: [UInt8], to destination: MeshLinkDestination, priority: MeshPriority) throws(MeshLinkError)
    /// Stops receiving and releases the link's resources; later sends fail with `.closed`.
    func stop()
    var statistics: MeshLinkStatistics { get }
}
