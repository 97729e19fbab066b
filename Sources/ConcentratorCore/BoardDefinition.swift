/// What a gateway board offers the agent: its RS-485 ports with stable names and RS-485 settings,
/// its LEDs, its radio-modem port and its uplink interface. Read from a `Board/*.json` file by
/// `BoardLoader`; the format is described in Docs/board-porting.md.
///
/// The board file describes hardware; the configuration (`config.json`) says which meters hang on
/// which port. `device.board` in the configuration names the board file.
public struct BoardDefinition: Hashable, Sendable {
    /// A short identifier, e.g. `rpi4-rs485-hat` (the file is normally `<id>.json`).
    public var id: String
    /// What the board is, for people.
    public var name: String
    public var serialPorts: [BoardSerialPort]
    public var leds: [BoardLED]
    /// The serial port of a radio modem for the mesh, if the board has one.
    public var radioModem: BoardRadioModem?
    /// The network interface of the uplink (`eth0`, `wwan0`), if the board names one.
    public var uplinkInterface: String?

    public init(id: String, name: String, serialPorts: [BoardSerialPort], leds: [BoardLED] = [],
                radioModem: BoardRadioModem? = nil, uplinkInterface: String? = nil) {
        self.id = id
        self.name = name
        self.serialPorts = serialPorts
        self.leds = leds
        self.radioModem = radioModem
        self.uplinkInterface = uplinkInterface
    }

    /// The port whose stable device path is `device` (a bus's `device` in the configuration).
    public func port(device: String) -> BoardSerialPort? { serialPorts.first { $0.device == device } }

    /// The LED with `role`; for bus activity, the one of the port named `port`.
    public func led(_ role: BoardLEDRole, port: String? = nil) -> BoardLED? {
        leds.first { $0.role == role && (role != .busActivity || $0.port == port) }
    }
}

/// One RS-485 port of a board.
public struct BoardSerialPort: Hashable, Sendable {
    /// The port's name on the board (printed on the case or the HAT), e.g. `rs485-1`.
    public var name: String
    /// The stable device path the configuration uses, e.g. `/dev/ttyRS485-1`.
    public var device: String
    /// How udev recognises the kernel device behind `device`; nil when something else creates the
    /// path (the simulator's PTY links).
    public var udevMatch: UdevMatch?
    /// How the transceiver's direction is switched on this port.
    public var rs485: RS485Settings

    public init(name: String, device: String, udevMatch: UdevMatch? = nil, rs485: RS485Settings = RS485Settings()) {
        self.name = name
        self.device = device
        self.udevMatch = udevMatch
        self.rs485 = rs485
    }
}

/// The serial port of a radio modem (used by the mesh).
public struct BoardRadioModem: Hashable, Sendable {
    public var device: String
    public var udevMatch: UdevMatch?
    public var baud: Int

    public init(device: String, udevMatch: UdevMatch? = nil, baud: Int = 9600) {
        self.device = device
        self.udevMatch = udevMatch
        self.baud = baud
    }
}

/// udev match keys (`KERNEL`, `KERNELS`, `ATTRS{idVendor}`, …) with their values, in file order.
/// `BoardUdevRules` turns them into a rule that gives the kernel device its stable name.
public struct UdevMatch: Hashable, Sendable {
    public var keys: [(key: String, value: String)]

    public init(_ keys: [(key: String, value: String)]) { self.keys = keys }

    /// The keys a board file may use: the device's own name, its parents' names, subsystems and
    /// drivers, USB identifiers, and the persistent path and serial that udev computes.
    public static let allowedKeys = [
        "KERNEL", "KERNELS", "SUBSYSTEMS", "DRIVERS", "ATTRS{idVendor}", "ATTRS{idProduct}", "ATTRS{serial}",
        "ATTRS{interface}", "ENV{ID_PATH}", "ENV{ID_SERIAL}", "ENV{ID_USB_INTERFACE_NUM}",
    ]

    public static func == (a: UdevMatch, b: UdevMatch) -> Bool {
        a.keys.map(\.key) == b.keys.map(\.key) && a.keys.map(\.value) == b.keys.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        for (k, v) in keys {
            hasher.combine(k)
            hasher.combine(v)
        }
    }
}

/// What an LED shows.
public enum BoardLEDRole: String, Hashable, Sendable, CaseIterable {
    /// Heartbeat while healthy, fast blink on an error.
    case status
    /// On while the uplink is connected (driven by the uplink).
    case uplink
    /// Blinks on each transaction of one bus (the LED names its port).
    case busActivity = "bus-activity"
}

/// How an LED is driven.
public enum BoardLEDDriver: Hashable, Sendable {
    /// A kernel LED class device: `/sys/class/leds/<name>` with `brightness` and `trigger` files.
    case ledClass(directory: String)
    /// One line of a GPIO chip character device (`/dev/gpiochipN`), driven as an output.
    case gpio(chip: String, line: UInt32, activeLow: Bool)
}

/// One LED of a board.
public struct BoardLED: Hashable, Sendable {
    public var role: BoardLEDRole
    /// For `busActivity`: the name of the serial port it belongs to.
    public var port: String?
    public var driver: BoardLEDDriver

    public init(role: BoardLEDRole, port: String? = nil, driver: BoardLEDDriver) {
        self.role = role
        self.port = port
        self.driver = driver
    }

    /// `status`, `uplink` or `bus-activity rs485-1`.
    public var label: String { port.map { "\(role.rawValue) \($0)" } ?? role.rawValue }
}
