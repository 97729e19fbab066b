/// The whole agent configuration (`/etc/concentrator/config.json`), after validation.
/// `ConfigurationLoader` turns JSON into this, listing every problem at once.
public struct ConcentratorConfig: Hashable, Sendable {
    public var device: DeviceSettings
    public var buses: [BusSettings]
    public var meters: [MeterSettings]
    public var archive: ArchiveSettings
    public var polling: PollingSettings
    /// The MQTT uplink to the head-end; nil = archive only.
    public var uplink: UplinkSettings?
    /// Location, alarm rules, switched outputs and schedules; nil = no edge monitoring.
    public var monitoring: MonitoringSettings?
    /// Relaying through other concentrators; nil = no mesh.
    public var mesh: MeshSettings?

    public init(device: DeviceSettings, buses: [BusSettings], meters: [MeterSettings],
                archive: ArchiveSettings = ArchiveSettings(), polling: PollingSettings = PollingSettings(),
                uplink: UplinkSettings? = nil, monitoring: MonitoringSettings? = nil, mesh: MeshSettings? = nil) {
        self.monitoring = monitoring
        self.mesh = mesh
        self.device = device
        self.buses = buses
        self.meters = meters
        self.archive = archive
        self.polling = polling
        self.uplink = uplink
    }

    public func meters(on bus: BusName) -> [MeterSettings] { meters.filter { $0.bus == bus } }
    public func meter(_ id: MeterID) -> MeterSettings? { meters.first { $0.id == id } }
    public func bus(_ name: BusName) -> BusSettings? { buses.first { $0.name == name } }
}

/// Who this concentrator is and where it keeps its files.
public struct DeviceSettings: Hashable, Sendable {
    /// Device identifier, unique across the fleet (letters, digits, '-', '_', '.').
    public var id: String
    /// Archive, keys and counters live here (0700).
    public var stateDirectory: String
    /// The control socket lives here.
    public var runtimeDirectory: String
    /// Extra directories searched for meter profiles before the shipped ones.
    public var profileDirectories: [String]
    /// The board file (`Board/*.json`, installed under /usr/share/concentrator/boards) that names
    /// this gateway's ports and LEDs; nil for a board without LEDs the agent drives (a PC).
    public var board: String?

    public init(id: String, stateDirectory: String = "/var/lib/concentrator",
                runtimeDirectory: String = "/run/concentrator", profileDirectories: [String] = [], board: String? = nil) {
        self.id = id
        self.stateDirectory = stateDirectory
        self.runtimeDirectory = runtimeDirectory
        self.profileDirectories = profileDirectories
        self.board = board
    }
}

/// Serial parity.
public enum Parity: String, Hashable, Sendable, Codable {
    case none, even, odd
}

/// Character framing and speed of a serial line.
public struct LineSettings: Hashable, Sendable {
    public var baud: Int
    public var dataBits: Int
    public var parity: Parity
    public var stopBits: Int

    public init(baud: Int = 9600, dataBits: Int = 8, parity: Parity = .none, stopBits: Int = 1) {
        self.baud = baud
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
    }

    /// Bits on the wire per character: start bit, data bits, parity bit if any, stop bits.
    public var bitsPerCharacter: Int { 1 + dataBits + (parity == .none ? 0 : 1) + stopBits }

    /// Time one character takes on the wire, in microseconds.
    public var characterMicroseconds: Double { Double(bitsPerCharacter) * 1_000_000 / Double(baud) }

    /// Time `count` characters take on the wire, in microseconds.
    public func wireMicroseconds(characters count: Int) -> Double { Double(count) * characterMicroseconds }

    /// The Modbus RTU inter-frame silence: 3.5 character times, fixed at 1750 µs above 19200 baud
    /// (Modbus over Serial Line V1.02, §2.5.1.1).
    public var modbusInterFrameMicroseconds: Double { baud > 19_200 ? 1750 : 3.5 * characterMicroseconds }

    /// Short form such as `9600 8N1`.
    public var summary: String {
        let p: String = parity == .none ? "N" : (parity == .even ? "E" : "O")
        return "\(baud) \(dataBits)\(p)\(stopBits)"
    }
}

/// How the driver switches an RS-485 transceiver between sending and receiving.
public struct RS485Settings: Hashable, Sendable {
    /// Use the kernel's RS-485 mode (TIOCSRS485). Ports that do not support it (PTYs, plain
    /// USB adapters with automatic direction control) are tolerated with a notice.
    public var enabled: Bool
    /// RTS level while sending: true = high.
    public var rtsActiveHigh: Bool
    public var delayBeforeSendMilliseconds: Int
    public var delayAfterSendMilliseconds: Int

    public init(enabled: Bool = false, rtsActiveHigh: Bool = true, delayBeforeSendMilliseconds: Int = 0,
                delayAfterSendMilliseconds: Int = 0) {
        self.enabled = enabled
        self.rtsActiveHigh = rtsActiveHigh
        self.delayBeforeSendMilliseconds = delayBeforeSendMilliseconds
        self.delayAfterSendMilliseconds = delayAfterSendMilliseconds
    }
}

/// One RS-485 bus: its port, line settings and timing bounds.
public struct BusSettings: Hashable, Sendable {
    public var name: BusName
    /// Device path, e.g. `/dev/ttyRS485-1` (a stable udev name) or a simulator's PTY link.
    public var device: String
    public var line: LineSettings
    public var rs485: RS485Settings
    /// Bounds for the learned per-meter response timeout, in milliseconds.
    public var responseTimeoutMilliseconds: ClosedRange<Int>
    /// Extra silence between frames beyond the protocol minimum, in milliseconds.
    public var interFrameGapMilliseconds: Int
    /// Retries of a failed transaction for a meter that was healthy (0–3).
    public var retries: Int

    public init(name: BusName, device: String, line: LineSettings = LineSettings(), rs485: RS485Settings = RS485Settings(),
                responseTimeoutMilliseconds: ClosedRange<Int> = 100...1000, interFrameGapMilliseconds: Int = 0,
                retries: Int = 1) {
        self.name = name
        self.device = device
        self.line = line
        self.rs485 = rs485
        self.responseTimeoutMilliseconds = responseTimeoutMilliseconds
        self.interFrameGapMilliseconds = interFrameGapMilliseconds
        self.retries = retries
    }
}

/// Where a meter answers on its bus. The form depends on the protocol.
public enum MeterAddress: Hashable, Sendable, CustomStringConvertible {
    /// A Modbus slave address, 1–247.
    case modbus(UInt8)
    /// An IEC 62056-21 device address (up to 32 printable characters; empty = any).
    case iecDevice(String)
    /// A DLMS/COSEM HDLC server (physical) address.
    case hdlc(UInt16)
    /// A wired M-Bus primary address, 1–250.
    case mbusPrimary(UInt8)
    /// A wired M-Bus secondary address (selected through address 0xFD), possibly with wildcards.
    case mbusSecondary(MBusSecondaryAddress)
    /// A wireless M-Bus meter's identity as configured (the id, optionally manufacturer, version, medium).
    case wmbus(MBusSecondaryAddress)

    public var description: String {
        switch self {
        case .modbus(let a): return String(a)
        case .iecDevice(let s): return s.isEmpty ? "(any)" : s
        case .hdlc(let a): return String(a)
        case .mbusPrimary(let a): return String(a)
        case .mbusSecondary(let a), .wmbus(let a): return a.description
        }
    }
}

/// One meter on one bus.
public struct MeterSettings: Hashable, Sendable {
    public var id: MeterID
    public var bus: BusName
    public var protocolKind: MeterProtocolKind
    public var address: MeterAddress
    /// The profile id (a file in a profile directory).
    public var profile: String
    /// Point of delivery (the grid connection identifier), if known.
    public var pod: String?
    public var serialNumber: String?
    public var label: String?

    public init(id: MeterID, bus: BusName, protocolKind: MeterProtocolKind = .modbus, address: MeterAddress, profile: String,
                pod: String? = nil, serialNumber: String? = nil, label: String? = nil) {
        self.id = id
        self.bus = bus
        self.protocolKind = protocolKind
        self.address = address
        self.profile = profile
        self.pod = pod
        self.serialNumber = serialNumber
        self.label = label
    }
}

/// What the archive keeps and for how long.
public struct ArchiveSettings: Hashable, Sendable {
    /// Length of the main interval, in minutes (60 by default).
    public var intervalMinutes: Int
    /// Length of the short load profile interval (15), or nil for none.
    public var profileIntervalMinutes: Int?
    /// Days of history kept, 30–45.
    public var retentionDays: Int
    /// Free space on the state file system below which `storage_low` is raised (before writes fail).
    public var storageLowFreeBytes: Int
    /// Disk space held back for the events about a full disk (the archive's reserve file).
    public var storageReserveBytes: Int

    public init(intervalMinutes: Int = 60, profileIntervalMinutes: Int? = nil, retentionDays: Int = 45,
                storageLowFreeBytes: Int = 64 << 20, storageReserveBytes: Int = 2 << 20) {
        self.intervalMinutes = intervalMinutes
        self.profileIntervalMinutes = profileIntervalMinutes
        self.retentionDays = retentionDays
        self.storageLowFreeBytes = storageLowFreeBytes
        self.storageReserveBytes = storageReserveBytes
    }
}

/// Reading cadence beyond the archive intervals.
public struct PollingSettings: Hashable, Sendable {
    /// An optional fast cadence for a few quantities (kept in memory for status and live views).
    public var live: LiveCadence?
    /// When meter clocks (DLMS, IEC 62056-21) are set by the snapshot cycle; nil: only by `time.sync`.
    public var meterClock: MeterClockPolicy?

    public init(live: LiveCadence? = nil, meterClock: MeterClockPolicy? = nil) {
        self.live = live
        self.meterClock = meterClock
    }
}

/// The meter clock policy: a meter clock read in a snapshot cycle that differs from the gateway's
/// synchronised clock by more than the threshold is set (and the set audited).
public struct MeterClockPolicy: Hashable, Sendable {
    public var thresholdSeconds: Int

    public init(thresholdSeconds: Int) { self.thresholdSeconds = thresholdSeconds }
}

/// A fast cadence for a few quantities.
public struct LiveCadence: Hashable, Sendable {
    public var periodSeconds: Int
    public var quantities: [QuantityID]

    public init(periodSeconds: Int, quantities: [QuantityID]) {
        self.periodSeconds = periodSeconds
        self.quantities = quantities
    }
}

/// Process exit codes the agent and tools use. Documented in Docs/configuration.md.
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    /// Command-line usage error (sysexits EX_USAGE).
    public static let usage: Int32 = 64
    /// Input data error, e.g. an unreadable export range (EX_DATAERR).
    public static let dataError: Int32 = 65
    /// A required service is unavailable, e.g. the agent is not running (EX_UNAVAILABLE).
    public static let unavailable: Int32 = 69
    /// Configuration error (EX_CONFIG). systemd's RestartPreventExitStatus names it, so a bad
    /// config does not restart-loop.
    public static let config: Int32 = 78
}
