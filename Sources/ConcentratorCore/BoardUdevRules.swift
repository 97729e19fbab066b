/// The udev rules that give a board's serial ports their stable names (`/dev/ttyRS485-1`, …), made
/// from the `udev` match keys in the board file. Pure: board in, rules text out.
///
/// Each port with a match becomes one rule: the kernel tty that matches gets a symlink named after
/// the port's `device` (relative to /dev), group `dialout` and mode 0660, so the agent's user (a
/// member of dialout) can open it and nobody else can. Each LED class LED gets a rule that gives the
/// agent's group write access to its `brightness` and `trigger` files, and each GPIO chip with LEDs
/// a rule that gives the group the chip (a distribution rule that runs later, such as Raspberry Pi
/// OS's `gpio` group rule, takes precedence; the package adds the agent's user to that group).
public enum BoardUdevRules {
    /// The system group the agent runs as (the Debian package creates it).
    public static let agentGroup = "concentrator"

    /// The file name the rules are installed under in /etc/udev/rules.d (60: after the persistent
    /// serial rules that compute ID_PATH and ID_SERIAL).
    public static func fileName(boardID: String) -> String { "60-concentrator-\(boardID).rules" }

    public static func render(_ board: BoardDefinition) -> String {
        var lines = [
            "# Stable serial port names for board \(board.id) (\(board.name)).",
            "# Made from Board/\(board.id).json by `concentrator board udev-rules`; change the board file, not this one.",
            "# Install as /etc/udev/rules.d/\(fileName(boardID: board.id)), then: udevadm control --reload && udevadm trigger",
        ]
        var entries: [(label: String, device: String, match: UdevMatch?)] = board.serialPorts.map { ($0.name, $0.device, $0.udevMatch) }
        if let radio = board.radioModem { entries.append(("radio modem", radio.device, radio.udevMatch)) }
        for entry in entries {
            guard let match = entry.match else {
                lines.append("# \(entry.label): \(entry.device) is not made by udev (no match keys in the board file)")
                continue
            }
            let name = String(entry.device.dropFirst("/dev/".count))
            let keys = match.keys.map { "\($0.key)==\"\($0.value)\"" }.joined(separator: ", ")
            lines.append("# \(entry.label)")
            lines.append("SUBSYSTEM==\"tty\", \(keys), SYMLINK+=\"\(name)\", GROUP=\"dialout\", MODE=\"0660\"")
        }
        var chips: [String] = []
        for led in board.leds {
            switch led.driver {
            case .ledClass(let directory):
                guard directory.hasPrefix("/sys/class/leds/"), !directory.dropFirst("/sys/class/leds/".count).contains("/") else {
                    lines.append("# led \(led.label): \(directory) is not under /sys/class/leds; grant the \(agentGroup) group write access to its brightness and trigger files yourself")
                    continue
                }
                let name = directory.dropFirst("/sys/class/leds/".count)
                let files = "/sys%p/brightness /sys%p/trigger"
                lines.append("# led \(led.label)")
                lines.append("ACTION!=\"remove\", SUBSYSTEM==\"leds\", KERNEL==\"\(name)\", RUN+=\"/bin/chgrp \(agentGroup) \(files)\", RUN+=\"/bin/chmod g+w \(files)\"")
            case .gpio(let chip, _, _):
                guard !chips.contains(chip) else { continue }
                chips.append(chip)
                guard chip.hasPrefix("/dev/"), !chip.dropFirst(5).contains("/") else {
                    lines.append("# GPIO chip \(chip) is not directly under /dev; give the \(agentGroup) group read/write access to it yourself")
                    continue
                }
                lines.append("# GPIO chip of the LEDs (\(chip.dropFirst(5)))")
                lines.append("SUBSYSTEM==\"gpio\", KERNEL==\"\(chip.dropFirst(5))\", GROUP=\"\(agentGroup)\", MODE=\"0660\"")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
