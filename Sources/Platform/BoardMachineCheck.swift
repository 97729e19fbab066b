#if canImport(Glibc)
import Glibc
#endif
import CPlatform
import ConcentratorCore

/// One line of `concentrator board check`: what was checked and what was found.
public struct BoardCheckResult: Hashable, Sendable, CustomStringConvertible {
    /// How bad a finding is: only failures make `board check` exit 1.
    public enum Level: String, Hashable, Sendable {
        case ok, warning, failure
    }

    public var level: Level
    /// What was checked: `port rs485-1`, `led status`, `uplink`, `bus bus1`.
    public var subject: String
    public var detail: String

    public init(_ level: Level, _ subject: String, _ detail: String) {
        self.level = level
        self.subject = subject
        self.detail = detail
    }

    public var description: String {
        let tag = switch level {
        case .ok: "ok  "
        case .warning: "warn"
        case .failure: "FAIL"
        }
        return "\(tag)  \(subject): \(detail)"
    }
}

/// Checks a board file against the machine it runs on: every serial port exists, is a character
/// device this user can open, and supports the kernel RS-485 mode if the board enables it (a PTY is
/// accepted as the simulator's); every LED can be written; the uplink interface exists. Opening a
/// port briefly (non-blocking, no controlling terminal) is the only side effect.
public enum BoardMachineCheck {
    /// Checks `board`; with `config`, also compares the configuration's buses with the board's ports.
    public static func check(_ board: BoardDefinition, config: ConcentratorConfig? = nil) -> [BoardCheckResult] {
        var results: [BoardCheckResult] = []
        for port in board.serialPorts {
            results.append(serialDevice(port.device, subject: "port \(port.name)", rs485: port.rs485, udev: port.udevMatch != nil))
        }
        if let radio = board.radioModem {
            results.append(serialDevice(radio.device, subject: "radio modem", rs485: nil, udev: radio.udevMatch != nil))
        }
        for led in board.leds { results.append(self.led(led)) }
        if board.leds.isEmpty { results.append(BoardCheckResult(.ok, "leds", "none on this board (nothing to drive)")) }
        if let name = board.uplinkInterface { results.append(interface(name)) }
        if let config { results += BoardConfigComparison.compare(board: board, config: config) }
        return results
    }

    // MARK: Serial devices

    /// Whether a device number belongs to a UNIX 98 pseudo-terminal slave (majors 136–143,
    /// Documentation/admin-guide/devices.txt).
    static func isPseudoTerminal(_ device: dev_t) -> Bool {
        let major = ((UInt64(device) >> 8) & 0xfff) | ((UInt64(device) >> 32) & ~UInt64(0xfff))
        return (136...143).contains(major)
    }

    static func serialDevice(_ path: String, subject: String, rs485: RS485Settings?, udev: Bool) -> BoardCheckResult {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let hint = udev ? "check the hardware and the udev rule (concentrator board udev-rules; udevadm info -a -n <tty>)"
                            : "nothing made it; for the simulator board, start meter-sim (scripts/demo.sh)"
            return BoardCheckResult(.failure, subject, "\(path) is missing (\(String(cString: strerror(errno)))); \(hint)")
        }
        let resolved = FileSystem.realPath(path).map { $0 == path ? path : "\(path) → \($0)" } ?? path
        guard (st.st_mode & S_IFMT) == S_IFCHR else {
            return BoardCheckResult(.failure, subject, "\(resolved) is not a character device")
        }
        guard access(path, R_OK | W_OK) == 0 else {
            return BoardCheckResult(.failure, subject, "\(resolved): no read/write access for uid \(getuid()); the agent's user must be in the dialout group")
        }
        let fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            return BoardCheckResult(.failure, subject, "\(resolved): cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard isatty(fd) == 1 else { return BoardCheckResult(.failure, subject, "\(resolved) is not a terminal (not a serial port)") }
        if isPseudoTerminal(st.st_rdev) {
            return BoardCheckResult(.ok, subject, "\(resolved): pseudo-terminal (simulator)")
        }
        var enabled: Int32 = 0
        if cplatform_get_rs485(fd, &enabled) == 0 {
            return BoardCheckResult(.ok, subject, "\(resolved): serial port, kernel RS-485 mode supported (now \(enabled != 0 ? "on" : "off"))")
        }
        let reason = String(cString: strerror(errno))
        if let rs485, rs485.enabled {
            return BoardCheckResult(.failure, subject, "\(resolved): the board enables the kernel RS-485 mode but the driver does not support it (\(reason)); check the device-tree overlay or driver")
        }
        return BoardCheckResult(.ok, subject, "\(resolved): serial port without kernel RS-485 mode (fine: the board file does not use it)")
    }

    // MARK: LEDs and interfaces

    static func led(_ led: BoardLED) -> BoardCheckResult {
        let subject = "led \(led.label)"
        switch led.driver {
        case .ledClass(let directory):
            let brightness = FileSystem.join(directory, "brightness")
            guard FileSystem.isDirectory(directory) else { return BoardCheckResult(.failure, subject, "\(directory) is missing") }
            guard FileSystem.exists(brightness) else { return BoardCheckResult(.failure, subject, "\(brightness) is missing") }
            guard access(brightness, W_OK) == 0 else {
                return BoardCheckResult(.failure, subject, "\(brightness) is not writable by uid \(getuid()); the unit grants it (see Docs/board-porting.md)")
            }
            return BoardCheckResult(.ok, subject, "\(directory): LED class device, writable")
        case .gpio(let chip, let line, _):
            var st = stat()
            guard stat(chip, &st) == 0 else { return BoardCheckResult(.failure, subject, "\(chip) is missing") }
            guard (st.st_mode & S_IFMT) == S_IFCHR else { return BoardCheckResult(.failure, subject, "\(chip) is not a character device") }
            guard access(chip, R_OK | W_OK) == 0 else {
                return BoardCheckResult(.failure, subject, "\(chip): no read/write access for uid \(getuid())")
            }
            return BoardCheckResult(.ok, subject, "\(chip) line \(line): GPIO chip present (the line is requested when the agent starts)")
        }
    }

    static func interface(_ name: String, sysfsRoot: String = "/sys/class/net") -> BoardCheckResult {
        let directory = FileSystem.join(sysfsRoot, name)
        guard FileSystem.exists(directory) else {
            return BoardCheckResult(.warning, "uplink", "interface \(name) is not present (an LTE modem's interface appears once the modem is up)")
        }
        let state = (try? FileSystem.readText(FileSystem.join(directory, "operstate")))?.trimmingWhitespace ?? "unknown"
        return BoardCheckResult(.ok, "uplink", "interface \(name) present (\(state))")
    }
}

/// Compares a configuration's buses with a board's ports (pure): a bus on a device the board does
/// not have, or with RS-485 settings other than the board's, is reported as a warning.
public enum BoardConfigComparison {
    public static func compare(board: BoardDefinition, config: ConcentratorConfig) -> [BoardCheckResult] {
        config.buses.map { bus in
            let subject = "bus \(bus.name)"
            guard let port = board.port(device: bus.device) else {
                return BoardCheckResult(.warning, subject, "\(bus.device) is not a port of board \(board.id) (ports: \(board.serialPorts.map(\.device).joined(separator: ", ")))")
            }
            guard bus.rs485 == port.rs485 else {
                return BoardCheckResult(.warning, subject, "rs485 settings \(summary(bus.rs485)) differ from port \(port.name)'s \(summary(port.rs485)); copy the board's into the configuration")
            }
            return BoardCheckResult(.ok, subject, "on port \(port.name) (\(bus.device)), rs485 settings match the board")
        }
    }

    static func summary(_ s: RS485Settings) -> String {
        guard s.enabled else { return "(off)" }
        return "(on, RTS \(s.rtsActiveHigh ? "high" : "low") while sending, delays \(s.delayBeforeSendMilliseconds)/\(s.delayAfterSendMilliseconds) ms)"
    }
}
