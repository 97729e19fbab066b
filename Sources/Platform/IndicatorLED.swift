#if canImport(Glibc)
import Glibc
#endif
import CPlatform
import ConcentratorCore

/// One LED the agent switches on and off (status, uplink, bus activity). Implementations write
/// to the kernel only when called; callers keep the state and call only on a change. Never call
/// from a bus thread: the agent drives LEDs from its own indicator thread.
public protocol IndicatorLED: AnyObject {
    /// What the LED shows (`status`, `bus-activity rs485-1`), for log lines.
    var label: String { get }
    func set(_ on: Bool) throws(FileError)
    /// Switches the LED off and hands it back to the kernel as it was found.
    func release()
}

/// Opens the LEDs a board file names.
public enum IndicatorLEDs {
    public static func open(_ led: BoardLED) throws(FileError) -> any IndicatorLED {
        switch led.driver {
        case .ledClass(let directory):
            return try LEDClassDevice(directory: directory, label: led.label)
        case .gpio(let chip, let line, let activeLow):
            return try GPIOLineLED(chip: chip, line: line, activeLow: activeLow, label: led.label)
        }
    }
}

/// A kernel LED class device (`/sys/class/leds/<name>`): the trigger is set to `none` so that the
/// agent alone drives `brightness` (0 or `max_brightness`); the previous trigger (for example the
/// Raspberry Pi's `mmc0` on the ACT LED) is restored on release.
public final class LEDClassDevice: IndicatorLED {
    public let label: String
    public let directory: String
    private let onValue: String
    private let previousTrigger: String?

    public init(directory: String, label: String) throws(FileError) {
        self.label = label
        self.directory = directory
        let brightness = FileSystem.join(directory, "brightness")
        guard access(brightness, W_OK) == 0 else { throw FileError(path: brightness, operation: "write to") }
        let maximum = (try? FileSystem.readText(FileSystem.join(directory, "max_brightness")))
            .flatMap { Int($0.trimmingWhitespace) } ?? 1
        onValue = String(max(1, maximum))
        let triggerPath = FileSystem.join(directory, "trigger")
        if let triggers = try? FileSystem.readText(triggerPath) {
            previousTrigger = Self.selectedTrigger(triggers)
            try Self.write("none", to: triggerPath)
        } else {
            previousTrigger = nil
        }
    }

    public func set(_ on: Bool) throws(FileError) {
        try Self.write(on ? onValue : "0", to: FileSystem.join(directory, "brightness"))
    }

    public func release() {
        try? set(false)
        if let previousTrigger, previousTrigger != "none" {
            try? Self.write(previousTrigger, to: FileSystem.join(directory, "trigger"))
        }
    }

    /// The trigger in brackets in a `trigger` file (`none [mmc0] timer heartbeat` → `mmc0`).
    static func selectedTrigger(_ text: String) -> String? {
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) where word.hasPrefix("[") && word.hasSuffix("]") {
            return String(word.dropFirst().dropLast())
        }
        return nil
    }

    /// One `write` of `value` and a newline: a sysfs attribute takes one store per write.
    static func write(_ value: String, to path: String) throws(FileError) {
        let fd = Glibc.open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, operation: "open") }
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw FileError(path: path, operation: "write \(value) to") }
    }
}

/// One output line of a GPIO chip character device (GPIO v2 uAPI, Linux 5.10+), held for as long
/// as the agent runs. `activeLow` inverts the level for LEDs wired to the supply.
public final class GPIOLineLED: IndicatorLED {
    public let label: String
    public let chip: String
    public let line: UInt32
    private var fd: Int32

    public init(chip: String, line: UInt32, activeLow: Bool, label: String) throws(FileError) {
        self.label = label
        self.chip = chip
        self.line = line
        fd = cplatform_gpio_request_output(chip, line, activeLow ? 1 : 0, "concentrator")
        guard fd >= 0 else { throw FileError(path: chip, operation: "request GPIO line \(line) as an output on") }
    }

    deinit { release() }

    public func set(_ on: Bool) throws(FileError) {
        guard fd >= 0, cplatform_gpio_set(fd, on ? 1 : 0) == 0 else {
            throw FileError(path: chip, operation: "set GPIO line \(line) on")
        }
    }

    public func release() {
        guard fd >= 0 else { return }
        _ = cplatform_gpio_set(fd, 0)
        close(fd)
        fd = -1
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines.
    var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
