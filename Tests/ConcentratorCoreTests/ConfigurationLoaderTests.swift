import Testing
@testable import ConcentratorCore

private typealias F = ConfigurationFixtures

@Suite struct ConfigurationLoaderTests {
    private func load(_ text: String) throws -> ConcentratorConfig {
        try ConfigurationLoader.load(text: text, source: "test.json", context: F.context)
    }

    /// The minimal example gets every documented default (Docs/configuration.md), written out here.
    @Test func minimalExampleGetsDocumentedDefaults() throws {
        let config = try load(try F.read(F.examplePath("minimal.json")))
        #expect(config.device.id == "gw-0001")
        #expect(config.device.stateDirectory == "/var/lib/concentrator")
        #expect(config.device.runtimeDirectory == "/run/concentrator")
        #expect(config.device.profileDirectories == [])
        #expect(config.buses.count == 1)
        let bus = try #require(config.buses.first)
        #expect(bus.name == "bus1")
        #expect(bus.device == "/dev/ttyRS485-1")
        #expect(bus.line.summary == "9600 8N1")
        #expect(bus.rs485.enabled == false)
        #expect(bus.rs485.rtsActiveHigh == true)
        #expect(bus.rs485.delayBeforeSendMilliseconds == 0)
        #expect(bus.rs485.delayAfterSendMilliseconds == 0)
        #expect(bus.responseTimeoutMilliseconds == 100...1000)
        #expect(bus.interFrameGapMilliseconds == 0)
        #expect(bus.retries == 1)
        #expect(config.meters == [MeterSettings(id: "m1", bus: "bus1", protocolKind: .modbus, address: .modbus(1),
                                                profile: "eastron-sdm120")])
        #expect(config.archive.intervalMinutes == 60)
        #expect(config.archive.profileIntervalMinutes == nil)
        #expect(config.archive.retentionDays == 45)
        #expect(config.polling.live == nil)
    }

    @Test func fullExampleLoadsEveryField() throws {
        let config = try load(try F.read(F.examplePath("config.json")))
        #expect(config.device.id == "gw-milano-0042")
        #expect(config.device.profileDirectories == ["/etc/concentrator/profiles"])
        #expect(config.buses.map(\.name) == ["bus1", "bus2"])
        let bus2 = try #require(config.bus("bus2"))
        #expect(bus2.line == LineSettings(baud: 19_200, dataBits: 8, parity: .even, stopBits: 1))
        #expect(bus2.rs485.enabled)
        #expect(bus2.responseTimeoutMilliseconds == 50...500)
        #expect(bus2.interFrameGapMilliseconds == 5)
        #expect(bus2.retries == 2)
        #expect(config.meters.count == 7)
        #expect(config.meters(on: "bus1").map(\.id) == ["main-incomer", "hvac", "lighting-1f", "ev-charger"])
        #expect(config.meter("main-incomer") == MeterSettings(
            id: "main-incomer", bus: "bus1", protocolKind: .modbus, address: .modbus(1), profile: "eastron-sdm630",
            pod: "IT001E00123456", serialNumber: "21034567", label: "Main incomer, cabinet A"))
        #expect(config.meter("kitchen")?.profile == "carlo-gavazzi-em24")
        #expect(config.archive == ArchiveSettings(intervalMinutes: 60, profileIntervalMinutes: 15, retentionDays: 45))
        #expect(config.polling.live == LiveCadence(periodSeconds: 10, quantities: ["active_power_total", "voltage_l1"]))
    }

    @Test func nullMeansAbsent() throws {
        let text = F.document(buses: #"[{"name": "bus1", "device": "/dev/ttyS1", "baud": null, "rs485": null}]"#,
                              meters: [F.meter("m1", address: 1, more: #", "protocol": null, "label": null"#)],
                              extra: #""archive": null, "polling": {"live": null}"#)
        let config = try load(text)
        #expect(config.buses[0].line.baud == 9600)
        #expect(config.buses[0].rs485.enabled == false)
        #expect(config.meters[0].protocolKind == .modbus)
        #expect(config.meters[0].label == nil)
        #expect(config.archive.retentionDays == 45)
        #expect(config.polling.live == nil)
    }

    @Test func sameAddressOnDifferentBusesIsFine() throws {
        let config = try load(F.document(meters: [F.meter("a", address: 5), F.meter("b", address: 5, bus: "bus2")]))
        #expect(config.meters.map(\.address) == [.modbus(5), .modbus(5)])
    }

    @Test func sixtyFourMetersOnOneBusAreFine() throws {
        let config = try load(F.document(meters: (1...64).map { F.meter("m\($0)", address: $0) }))
        #expect(config.meters(on: "bus1").count == 64)
    }

    @Test func otherProtocolsLoadWhenTheBuildSupportsThem() throws {
        var context = F.context
        context.supportedProtocols = [.modbus, .iec62056_21, .dlms]
        let text = F.document(meters: [
            #"{"id": "e1", "bus": "bus1", "protocol": "iec62056-21", "address": "", "profile": "iskra-mt174"}"#,
            #"{"id": "d1", "bus": "bus1", "protocol": "dlms", "address": 16381, "profile": "landis-e450"}"#,
        ])
        let config = try ConfigurationLoader.load(text: text, source: "t", context: context)
        #expect(config.meters.map(\.address) == [.iecDevice(""), .hdlc(16381)])
        #expect(config.meters.map(\.protocolKind) == [.iec62056_21, .dlms])
    }

    @Test func syntaxErrorGivesLineAndColumn() {
        // A trailing comma on line 3: the parser stops at the '}' in column 3 of line 4.
        let text = "{\n  \"device\": {\n    \"id\": \"gw-1\",\n  }\n}\n"
        let issues = F.issues(text)
        #expect(issues?.count == 1)
        #expect(issues?.first?.path == "$")
        #expect(issues?.first?.line == 4)
        #expect(issues?.first?.problem.contains("invalid JSON at column 3") == true)
        #expect(issues?.first?.description.contains("no trailing commas") == true)
    }

    @Test func emptyFileIsASyntaxError() {
        #expect(F.issues("")?.first?.problem.contains("unexpected end of document") == true)
    }

    /// One document with many mistakes reports all of them at once, in document order.
    @Test func reportsEveryProblemAtOnce() {
        let text = """
        {
          "device": {"id": "gw 1", "colour": "red"},
          "buses": [
            {"name": "bus1", "device": "/dev/ttyS1", "baud": 9601, "parity": "mark"},
            {"name": "bus1", "device": "/dev/ttyS1", "retries": 9}
          ],
          "meters": [
            {"id": "m1", "bus": "bus1", "address": 300, "profile": "eastron-sdm630"},
            {"id": "m1", "bus": "bus7", "address": 2, "profile": "nope"}
          ],
          "archive": {"retentionDays": 90}
        }
        """
        let issues = F.issues(text) ?? []
        #expect(issues.map(\.path) == [
            "$.device.id", "$.device.colour",
            "$.buses[0].baud", "$.buses[0].parity",
            "$.buses[1].name", "$.buses[1].device", "$.buses[1].retries",
            "$.meters[0].address",
            "$.meters[1].id", "$.meters[1].bus", "$.meters[1].profile",
            "$.archive.retentionDays",
        ])
        #expect(issues.map { $0.line ?? 0 } == [2, 2, 4, 4, 5, 5, 5, 8, 9, 9, 9, 11])
    }

    /// Issues come in document order even when the sections come in an unusual order, and the same
    /// document always gives the same list.
    @Test func orderIsDocumentOrderAndStable() {
        let text = """
        {
          "polling": {"live": {"quantities": ["water_flow"]}},
          "archive": {"intervalMinutes": 45},
          "meters": [{"id": "m1", "bus": "bus1", "address": 1, "profile": "finder-7m", "extra": 1}],
          "buses": [{"name": "bus1", "device": "/dev/ttyS1", "stopBits": 0}],
          "device": {}
        }
        """
        let first = F.issues(text) ?? []
        #expect(first.map(\.path) == ["$.polling.live.quantities[0]", "$.archive.intervalMinutes", "$.meters[0].extra",
                                      "$.buses[0].stopBits", "$.device.id"])
        for _ in 0..<5 { #expect(F.issues(text) == first) }
    }

    @Test func failureDescriptionListsEveryIssue() throws {
        do {
            _ = try ConfigurationLoader.load(text: F.document(buses: #"[{"name": "bus1", "device": "/dev/ttyS1", "retries": 7}]"#,
                                                              meters: [F.meter("m1", address: 0)]),
                                             source: "/etc/concentrator/config.json", context: F.context)
            Issue.record("accepted")
        } catch {
            #expect(error.description == """
            /etc/concentrator/config.json: 2 problems
              - $.buses[0].retries (line 3): out of range: got 7; allowed: 0–3
              - $.meters[0].address (line 5): out of range: got 0; allowed: an integer 1–247 (Modbus slave address)
            """)
        }
    }

    @Test func contextFromProfilesKeepsTheFirstOfEachID() {
        let register = ModbusRegisterSpec(quantity: "frequency", function: .readInputRegisters, address: 70, type: .f32, unit: .hertz)
        let site = MeterProfile(id: "x", name: "site", manufacturer: "m", source: "s", protocolKind: .modbus,
                                modbus: ModbusRegisterMap(registers: [register]))
        let shipped = MeterProfile(id: "x", name: "shipped", manufacturer: "m", source: "s", protocolKind: .dlms)
        let context = ConfigurationContext(profiles: [site, shipped])
        #expect(context.profiles["x"] == .init(protocolKind: .modbus, quantities: ["frequency"]))
        #expect(context.knownProfileIDs == ["x"])
        #expect(context.profileIDs(for: .dlms) == [])
    }
}
