/// Turns the text of a board file (`Board/*.json`) into a `BoardDefinition`, or throws one
/// `ValidationFailure` listing every problem with its JSON path and line. Pure: no file access;
/// whether the ports and LEDs exist on this machine is checked elsewhere (`concentrator board check`).
/// The format is described in Docs/board-porting.md.
public enum BoardLoader {
    /// At most this many RS-485 ports (the same bound as the configuration's buses).
    public static let serialPortCountRange = 1...16
    /// At most this many LEDs.
    public static let maxLEDs = 32
    /// GPIO line offsets a board file may name.
    public static let gpioLineRange = 0...1023
    /// Linux network interface names are at most 15 bytes (IFNAMSIZ − 1).
    public static let interfaceNameMaxLength = 15

    public static func load(text: String, source: String) throws(ValidationFailure) -> BoardDefinition {
        try ConfigurationLoader.readDocument(text: text, source: source) { top in
            BoardDocumentReader(collector: top.collector).read(top)
        }
    }
}

/// Reads one board document, recording every problem.
private struct BoardDocumentReader {
    let collector: IssueCollector

    func read(_ top: JSONObjectReader) -> BoardDefinition? {
        let id = boardID(top)
        let name = top.string("name", required: true, maxLength: 128)
        if let name, ConfigurationLoader.containsControlCharacters(name) {
            collector.add(path: "$.name", line: top.member("name")?.line, problem: "contains control characters", value: .string(name))
        }
        var ports: [BoardSerialPort] = []
        var portNames: Set<String> = []
        var devices: [String: String] = [:]
        if let items = elements(top, "serialPorts", required: true, allowed: BoardLoader.serialPortCountRange, noun: "ports") {
            for item in items {
                guard let r = collector.object(item.value, at: item.path, line: item.line) else { continue }
                if let port = readPort(r, names: &portNames, devices: &devices) { ports.append(port) }
            }
        }
        var leds: [BoardLED] = []
        var ledKeys: Set<String> = []
        for item in elements(top, "leds", required: false, allowed: 0...BoardLoader.maxLEDs, noun: "LEDs") ?? [] {
            guard let r = collector.object(item.value, at: item.path, line: item.line) else { continue }
            if let led = readLED(r, portNames: portNames, seen: &ledKeys) { leds.append(led) }
        }
        var radio: BoardRadioModem?
        if let r = top.object("radioModem") { radio = readRadio(r, devices: &devices) }
        let uplink = interfaceName(top, "uplinkInterface")
        guard let id, let name, collector.issues.isEmpty else { return nil }
        return BoardDefinition(id: id, name: name, serialPorts: ports, leds: leds, radioModem: radio, uplinkInterface: uplink)
    }

    // MARK: Fields

    private func boardID(_ r: JSONObjectReader) -> String? {
        guard let s = r.string("id", required: true, maxLength: 64) else { return nil }
        let ok = s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
            && !s.hasPrefix("-")
        guard ok else {
            collector.add(path: r.path + ".id", line: r.member("id")?.line, problem: "not a valid board id", value: .string(s),
                          expected: "lower-case letters, digits and '-', starting with a letter or digit")
            return nil
        }
        return s
    }

    private func elements(_ r: JSONObjectReader, _ key: String, required: Bool, allowed: ClosedRange<Int>,
                          noun: String) -> [(value: JSONValue, path: String, line: Int)]? {
        guard let items = r.array(key, required: required) else { return nil }
        if !allowed.contains(items.count) {
            collector.add(ValidationIssue(path: r.path + "." + key, line: r.member(key)?.line,
                                          problem: items.count < allowed.lowerBound ? "too few entries" : "too many entries",
                                          value: "\(items.count) \(noun)", expected: "\(allowed.lowerBound)–\(allowed.upperBound) \(noun)"))
        }
        return items.map { ($0.value, $0.path, $0.value.members?.first?.line ?? $0.line) }
    }

    /// A device path used once across ports and the radio modem.
    private func uniqueDevice(_ r: JSONObjectReader, devices: inout [String: String]) -> String? {
        guard let device = ConfigurationLoader.absolutePath(r, "device", required: true) else { return nil }
        if let first = devices[device] {
            collector.add(path: r.path + ".device", line: r.member("device")?.line, problem: "device already used by \(first)",
                          value: .string(device), expected: "one entry per device")
            return nil
        }
        devices[device] = r.path
        return device
    }

    private func readPort(_ r: JSONObjectReader, names: inout Set<String>, devices: inout [String: String]) -> BoardSerialPort? {
        let before = collector.issues.count
        let name = ConfigurationLoader.identifier(r, "name", required: true)
        if let name, !names.insert(name).inserted {
            collector.add(path: r.path + ".name", line: r.member("name")?.line, problem: "duplicate port name", value: .string(name),
                          expected: "a name not used by another port")
        }
        let device = uniqueDevice(r, devices: &devices)
        let udev = readUdev(r, device: device)
        let rs485 = r.object("rs485").map { ConfigurationLoader.readRS485($0, defaults: RS485Settings()) } ?? RS485Settings()
        r.finish()
        guard let name, let device, collector.issues.count == before else { return nil }
        return BoardSerialPort(name: name, device: device, udevMatch: udev, rs485: rs485)
    }

    private func readRadio(_ r: JSONObjectReader, devices: inout [String: String]) -> BoardRadioModem? {
        let before = collector.issues.count
        let device = uniqueDevice(r, devices: &devices)
        let udev = readUdev(r, device: device)
        let baud = r.int("baud", oneOf: ConfigurationLoader.standardBaudRates) ?? 9600
        r.finish()
        guard let device, collector.issues.count == before else { return nil }
        return BoardRadioModem(device: device, udevMatch: udev, baud: baud)
    }

    /// `"udev": {"KERNEL": "ttySC0"}`: the rule gives the kernel device the name `device` (under /dev).
    private func readUdev(_ r: JSONObjectReader, device: String?) -> UdevMatch? {
        guard let m = r.member("udev") else { return nil }
        let path = r.path + ".udev"
        guard let members = m.value.members else {
            collector.add(path: path, line: m.line, problem: "wrong type", value: m.value, expected: "an object of udev match keys")
            return nil
        }
        if members.isEmpty {
            collector.add(path: path, line: m.line, problem: "must name at least one match key",
                          expected: UdevMatch.allowedKeys.joined(separator: ", "))
        }
        if let device, !device.hasPrefix("/dev/") || device.count <= 5 {
            collector.add(path: r.path + ".device", line: r.member("device")?.line, problem: "a udev rule can only name devices under /dev",
                          value: .string(device), expected: "a path like /dev/ttyRS485-1")
        }
        var keys: [(key: String, value: String)] = []
        var seen: Set<String> = []
        for member in members {
            let keyPath = path + "." + member.key
            guard UdevMatch.allowedKeys.contains(member.key) else {
                collector.add(path: keyPath, line: member.line, problem: "unknown udev match key",
                              expected: UdevMatch.allowedKeys.joined(separator: ", "))
                continue
            }
            guard seen.insert(member.key).inserted else {
                collector.add(path: keyPath, line: member.line, problem: "duplicate key")
                continue
            }
            guard let value = member.value.stringValue, !value.isEmpty, value.count <= 128,
                  !ConfigurationLoader.containsControlCharacters(value), !value.contains("\""), !value.contains("\\") else {
                collector.add(path: keyPath, line: member.line, problem: "not a usable udev match value", value: member.value,
                              expected: "a non-empty string of at most 128 characters without quotes, backslashes or control characters")
                continue
            }
            keys.append((member.key, value))
        }
        return keys.isEmpty ? nil : UdevMatch(keys)
    }

    private func readLED(_ r: JSONObjectReader, portNames: Set<String>, seen: inout Set<String>) -> BoardLED? {
        let before = collector.issues.count
        let role = r.string("role", required: true, allowed: BoardLEDRole.allCases.map(\.rawValue)).flatMap(BoardLEDRole.init(rawValue:))
        let port = r.string("port", maxLength: 64)
        if let role {
            if role == .busActivity {
                if port == nil, !r.has("port") {
                    collector.add(path: r.path + ".port", line: r.line, problem: "missing required key",
                                  expected: "the name of the serial port whose bus this LED shows")
                } else if let port, !portNames.contains(port) {
                    collector.add(path: r.path + ".port", line: r.member("port")?.line, problem: "unknown serial port", value: .string(port),
                                  expected: "one of the board's ports: " + ConfigurationLoader.list(portNames.sorted(), none: "none"))
                }
            } else if let port {
                collector.add(path: r.path + ".port", line: r.member("port")?.line, problem: "only bus-activity LEDs name a port",
                              value: .string(port))
            }
            let key = role == .busActivity ? "\(role.rawValue) \(port ?? "")" : role.rawValue
            if !seen.insert(key).inserted {
                collector.add(path: r.path + ".role", line: r.member("role")?.line, problem: "a second LED for the same purpose",
                              value: .string(key), expected: "one LED per role (and per port for bus-activity)")
            }
        }
        var driver: BoardLEDDriver?
        let sysfs = ConfigurationLoader.absolutePath(r, "sysfs", required: false)
        if let sysfs { driver = .ledClass(directory: sysfs) }
        if let g = r.object("gpio") {
            let chip = ConfigurationLoader.absolutePath(g, "chip", required: true)
            let line = g.int("line", required: true, in: BoardLoader.gpioLineRange)
            let activeLow = g.bool("activeLow") ?? false
            g.finish()
            if let chip, let line { driver = .gpio(chip: chip, line: UInt32(line), activeLow: activeLow) }
        }
        if r.has("sysfs") == r.has("gpio") {
            collector.add(path: r.path, line: r.line ?? r.member("role")?.line, problem: "needs exactly one of \"sysfs\" and \"gpio\"",
                          expected: "\"sysfs\": \"/sys/class/leds/NAME\" or \"gpio\": {\"chip\": \"/dev/gpiochip0\", \"line\": N}")
        }
        r.finish()
        guard let role, let driver, collector.issues.count == before else { return nil }
        return BoardLED(role: role, port: role == .busActivity ? port : nil, driver: driver)
    }

    private func interfaceName(_ r: JSONObjectReader, _ key: String) -> String? {
        guard let s = r.string(key, maxLength: BoardLoader.interfaceNameMaxLength) else { return nil }
        guard s != ".", s != "..", !s.contains("/"), !s.contains(" "), !ConfigurationLoader.containsControlCharacters(s) else {
            collector.add(path: r.path + "." + key, line: r.member(key)?.line, problem: "not a network interface name",
                          value: .string(s), expected: "a Linux interface name such as eth0 or wwan0 (1–15 characters, no '/' or spaces)")
            return nil
        }
        return s
    }
}
