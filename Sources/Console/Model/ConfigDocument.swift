import ConcentratorCore

extension JSONValue {
    /// An integer number.
    public static func integer(_ value: Int) -> JSONValue { .number(Double(value), text: String(value)) }

    /// This object with member `key` set to `value` in place (appended when new, removed when nil).
    /// Member order is kept, so the file changes only where it was edited. Not an object: unchanged.
    public func setting(_ key: String, _ value: JSONValue?) -> JSONValue {
        guard var members = self.members else { return self }
        if let index = members.firstIndex(where: { $0.key == key }) {
            if let value { members[index].value = value } else { members.remove(at: index) }
        } else if let value {
            members.append(JSONMember(key: key, value: value))
        }
        return .object(members)
    }
}

/// The console's working copy of `config.json`: the parsed document, edited structurally (member
/// order and untouched values stay as they are) and rendered back with `JSONWriter`. Nothing here
/// validates; the agent's validator judges the whole document before it is applied.
public struct ConfigDocument: Hashable, Sendable {
    public private(set) var root: JSONValue

    public init(root: JSONValue) { self.root = root }

    public init(text: String) throws(JSONSyntaxError) { root = try JSONParser.parse(text) }

    /// A new configuration for a gateway being commissioned from scratch: a device id, no buses,
    /// no meters (the validator asks for a bus before it can be applied).
    public static func skeleton(deviceID: String) -> ConfigDocument {
        ConfigDocument(root: .object([
            JSONMember(key: "device", value: .object([JSONMember(key: "id", value: .string(deviceID))])),
            JSONMember(key: "buses", value: .array([])),
            JSONMember(key: "meters", value: .array([])),
        ]))
    }

    /// The document as the file will hold it.
    public var text: String { JSONWriter.render(root, pretty: true) + "\n" }

    // MARK: - Device

    public var deviceID: String? { root["device"]?["id"]?.stringValue }
    public var stateDirectory: String { root["device"]?["stateDirectory"]?.stringValue ?? DeviceSettings(id: "").stateDirectory }
    public var runtimeDirectory: String { root["device"]?["runtimeDirectory"]?.stringValue ?? DeviceSettings(id: "").runtimeDirectory }
    public var profileDirectories: [String] { root["device"]?["profileDirectories"]?.arrayValue?.compactMap(\.stringValue) ?? [] }

    // MARK: - Buses

    public var buses: [JSONValue] { root["buses"]?.arrayValue ?? [] }
    public var busNames: [String] { buses.compactMap { $0["name"]?.stringValue } }

    public func bus(named name: String) -> JSONValue? { buses.first { $0["name"]?.stringValue == name } }

    /// Replaces the bus called `name`, or appends `bus` when there is none.
    public mutating func setBus(named name: String, to bus: JSONValue) {
        var list = buses
        if let index = list.firstIndex(where: { $0["name"]?.stringValue == name }) { list[index] = bus } else { list.append(bus) }
        root = root.setting("buses", .array(list))
    }

    public mutating func removeBus(named name: String) {
        root = root.setting("buses", .array(buses.filter { $0["name"]?.stringValue != name }))
    }

    // MARK: - Meters

    public var meters: [JSONValue] { root["meters"]?.arrayValue ?? [] }
    public var meterIDs: [String] { meters.compactMap { $0["id"]?.stringValue } }

    public func meter(id: String) -> JSONValue? { meters.first { $0["id"]?.stringValue == id } }

    /// The meters on `bus` by address (addresses in the file's form: integers for Modbus).
    public func meterAddresses(onBus bus: String) -> [Int: String] {
        var result: [Int: String] = [:]
        for m in meters where m["bus"]?.stringValue == bus {
            if let a = m["address"]?.intValue { result[a] = m["id"]?.stringValue ?? "?" }
        }
        return result
    }

    public mutating func appendMeter(_ meter: JSONValue) {
        root = root.setting("meters", .array(meters + [meter]))
    }

    /// Replaces the meter `id` (which keeps its place in the list).
    public mutating func replaceMeter(id: String, with meter: JSONValue) {
        var list = meters
        guard let index = list.firstIndex(where: { $0["id"]?.stringValue == id }) else { return }
        list[index] = meter
        root = root.setting("meters", .array(list))
    }

    public mutating func removeMeter(id: String) {
        root = root.setting("meters", .array(meters.filter { $0["id"]?.stringValue != id }))
    }

    // MARK: - Uplink

    public var uplink: JSONValue? { root["uplink"] }

    public mutating func setUplink(_ uplink: JSONValue?) { root = root.setting("uplink", uplink) }

    /// Replaces (or with nil removes) the `mesh` section.
    public mutating func setMesh(_ mesh: JSONValue?) { root = root.setting("mesh", mesh) }

    /// The head-end key files the uplink section names.
    public var headEndKeyFiles: [String] { uplink?["headEndKeys"]?.arrayValue?.compactMap(\.stringValue) ?? [] }

    /// Sets the uplink's head-end key file list (creating the uplink section if needed).
    public mutating func setHeadEndKeyFiles(_ paths: [String]) {
        let section = uplink ?? .object([])
        setUplink(section.setting("headEndKeys", .array(paths.map { .string($0) })))
    }
}

/// One meter entry as the console builds it. `json(updating:)` writes the fields into an existing
/// entry (keeping members the console does not know) or into a new one in the documented order.
public struct MeterEntry: Hashable, Sendable {
    public var id: String
    public var bus: String
    /// The address as typed: an integer for Modbus, kept as given when it is not one (the
    /// validator then names the problem).
    public var address: JSONValue
    public var profile: String
    public var pod: String?
    public var serialNumber: String?
    public var label: String?

    public init(id: String, bus: String, address: JSONValue, profile: String, pod: String? = nil, serialNumber: String? = nil,
                label: String? = nil) {
        self.id = id
        self.bus = bus
        self.address = address
        self.profile = profile
        self.pod = pod
        self.serialNumber = serialNumber
        self.label = label
    }

    /// Reads an entry of the working copy.
    public init?(_ json: JSONValue) {
        guard let id = json["id"]?.stringValue, let bus = json["bus"]?.stringValue, let address = json["address"],
              let profile = json["profile"]?.stringValue else { return nil }
        self.init(id: id, bus: bus, address: address, profile: profile, pod: json["pod"]?.stringValue,
                  serialNumber: json["serialNumber"]?.stringValue, label: json["label"]?.stringValue)
    }

    public func json(updating existing: JSONValue = .object([])) -> JSONValue {
        existing.setting("id", .string(id)).setting("bus", .string(bus)).setting("address", address)
            .setting("profile", .string(profile)).setting("pod", pod.map { .string($0) })
            .setting("serialNumber", serialNumber.map { .string($0) }).setting("label", label.map { .string($0) })
    }
}
