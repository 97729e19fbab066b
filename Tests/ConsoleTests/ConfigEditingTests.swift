import ConcentratorCore
import Console
import Testing

@Suite struct ConfigEditingTests {
    private let text = """
    {
      "$schema": "../Docs/config.schema.json",
      "device": {"id": "gw-1", "stateDirectory": "/var/lib/c"},
      "buses": [{"name": "bus1", "device": "/dev/ttyRS485-1", "baud": 9600}],
      "meters": [
        {"id": "m1", "bus": "bus1", "address": 1, "profile": "eastron-sdm630", "label": "cabinet A"},
        {"id": "m2", "bus": "bus1", "address": 2, "profile": "abb-b23"}
      ],
      "archive": {"intervalMinutes": 60}
    }
    """

    @Test func editsKeepMemberOrderAndUntouchedValues() throws {
        var doc = try ConfigDocument(text: text)
        var bus = doc.bus(named: "bus1")!
        bus = bus.setting("baud", .integer(38_400)).setting("parity", .string("even"))
        doc.setBus(named: "bus1", to: bus)
        #expect(doc.bus(named: "bus1")?.members?.map(\.key) == ["name", "device", "baud", "parity"])
        let rendered = try JSONParser.parse(doc.text)
        #expect(rendered.members?.map(\.key) == ["$schema", "device", "buses", "meters", "archive"])
        #expect(rendered["buses"]?.arrayValue?.first?["baud"]?.intValue == 38_400)
        #expect(rendered["device"]?["stateDirectory"]?.stringValue == "/var/lib/c")
        #expect(testValidator(doc.text, "t") == nil, "still a valid configuration")
    }

    @Test func metersAreAddedReplacedAndRemovedByID() throws {
        var doc = try ConfigDocument(text: text)
        doc.appendMeter(MeterEntry(id: "m3", bus: "bus1", address: .integer(3), profile: "finder-7m", pod: "IT001E1").json())
        #expect(doc.meterIDs == ["m1", "m2", "m3"])
        #expect(doc.meter(id: "m3")?.members?.map(\.key) == ["id", "bus", "address", "profile", "pod"])
        let edited = MeterEntry(id: "m1", bus: "bus1", address: .integer(11), profile: "eastron-sdm630", label: nil)
        doc.replaceMeter(id: "m1", with: edited.json(updating: doc.meter(id: "m1")!))
        #expect(doc.meterIDs == ["m1", "m2", "m3"], "an edited meter keeps its place")
        #expect(doc.meter(id: "m1")?["address"]?.intValue == 11)
        #expect(doc.meter(id: "m1")?["label"] == nil, "a cleared field is removed")
        doc.removeMeter(id: "m2")
        #expect(doc.meterIDs == ["m1", "m3"])
        #expect(doc.meterAddresses(onBus: "bus1") == [11: "m1", 3: "m3"])
    }

    @Test func headEndKeyFilesCreateTheUplinkSectionWhenNeeded() throws {
        var doc = try ConfigDocument(text: text)
        doc.setHeadEndKeyFiles(["/etc/concentrator/headend-keys/sealing-1.json"])
        #expect(doc.headEndKeyFiles == ["/etc/concentrator/headend-keys/sealing-1.json"])
        #expect(doc.uplink?["broker"] == nil)
    }

    @Test func aNewConfigurationStartsWithADeviceAndNeedsABus() {
        let doc = ConfigDocument.skeleton(deviceID: "gw-new")
        #expect(doc.deviceID == "gw-new")
        #expect(doc.stateDirectory == "/var/lib/concentrator")
        let failure = testValidator(doc.text, "new")
        #expect(failure?.issues.map(\.path) == ["$.buses"], "only the missing bus is a problem")
    }
}

@Suite struct ConfigDiffTests {
    private func doc(_ text: String) -> JSONValue { try! JSONParser.parse(text) }

    @Test func reorderingAndReformattingAreNoChange() {
        let a = doc(#"{"meters": [{"id": "m1", "address": 1}, {"id": "m2", "address": 2}]}"#)
        let b = doc("{\n\"meters\": [\n{\"id\": \"m2\", \"address\": 2},\n{\"id\": \"m1\", \"address\": 1}]}")
        #expect(ConfigDiff.changes(from: a, to: b).isEmpty)
    }

    @Test func changesNameTheEntryAndTheField() {
        let a = doc(#"{"buses": [{"name": "bus1", "baud": 9600}], "meters": [{"id": "m1", "address": 1}, {"id": "m2", "address": 2}]}"#)
        let b = doc(#"{"buses": [{"name": "bus1", "baud": 38400}], "meters": [{"id": "m1", "address": 1, "label": "A"}, {"id": "m3", "address": 3}], "uplink": {"broker": {"host": "mqtt.example", "port": 8883}, "headEndKeys": ["/k/s.json"]}}"#)
        let changes = ConfigDiff.changes(from: a, to: b)
        #expect(changes.map(\.path) == ["buses[bus1].baud", "meters[m1].label", "meters[m3]", "meters[m2]",
                                        "uplink.broker.host", "uplink.broker.port", "uplink.headEndKeys[0]"])
        #expect(changes.map(\.kind) == [.changed, .added, .added, .removed, .added, .added, .added])
        let lines = ConfigDiff.render(changes)
        #expect(lines[0] == "~ buses[bus1].baud  9600 -> 38400")
        #expect(lines[2] == "+ meters[m3]  address=3", "the id is in the path, not repeated")
        #expect(lines[3] == "- meters[m2]  address=2")
        #expect(lines[6] == #"+ uplink.headEndKeys[0]  "/k/s.json""#)
        #expect(ConfigDiff.counts(changes) == "5 added, 1 changed, 1 removed")
    }

    @Test func renderedLinesFitEightyColumns() {
        let long = String(repeating: "x", count: 200)
        let changes = ConfigDiff.changes(from: doc(#"{"a": "b"}"#), to: doc("{\"a\": \"\(long)\"}"))
        #expect(ConfigDiff.render(changes).allSatisfy { $0.count <= 80 })
    }
}
