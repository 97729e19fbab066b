import Foundation
import Testing
import TestSupport
@testable import ConcentratorCore

private typealias F = ConfigurationFixtures

/// Docs/config.schema.json and Docs/examples/ must agree with the loader.
@Suite struct ConfigurationSchemaTests {
    static let exampleFiles: [String] = {
        let dir = BuiltProducts.packageRoot + "/Docs/examples"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { dir + "/" + $0 }
    }()

    /// Whether `python3` with the `jsonschema` package is installed (the schema checks skip otherwise).
    static let pythonJSONSchemaAvailable: Bool = {
        (try? runCommand("/usr/bin/env", ["python3", "-c", "import jsonschema"], timeout: .seconds(30)))?.status == 0
    }()

    /// Bad configs from the acceptance table whose mistake no JSON Schema can express (uniqueness
    /// across entries, references, build capabilities, relations between values, duplicate keys,
    /// which JSON parsers silently drop). The schema must accept exactly these and reject all others.
    static let loaderOnlyBadConfigs: Set<String> = [
        "duplicate key", "duplicate meter id", "duplicate bus name", "two buses on one port", "two meters on one address",
        "65 meters on one bus", "unknown bus", "unknown profile", "DLMS meter with a Modbus profile", "IEC meter",
        "timeout min above max", "timeout min above the default max", "profile interval not dividing the interval",
        "live quantity no meter reads", "client certificate without its key",
    ]

    private func schema() throws -> JSONValue { try JSONParser.parse(try F.read(F.schemaPath)) }

    private func node(_ root: JSONValue, _ pointer: [String]) -> JSONValue? {
        var current: JSONValue? = root
        for key in pointer { current = current?[key] }
        return current
    }

    @Test func examplesExistAndLoad() throws {
        #expect(Self.exampleFiles.map { ($0 as NSString).lastPathComponent } .contains("config.json"))
        #expect(Self.exampleFiles.map { ($0 as NSString).lastPathComponent } .contains("minimal.json"))
        for file in Self.exampleFiles {
            let text = try F.read(file)
            #expect(throws: Never.self, "\(file)") {
                _ = try ConfigurationLoader.load(text: text, source: file, context: F.context)
            }
        }
    }

    /// The examples pass the schema; every bad config of the acceptance table fails the schema too,
    /// except the ones only the loader can catch, which the schema must let through.
    @Test(.enabled(if: pythonJSONSchemaAvailable, "python3 with jsonschema is not installed"))
    func schemaAgreesWithTheLoader() throws {
        let dir = TemporaryDirectory("config-schema")
        #expect(Self.loaderOnlyBadConfigs.isSubset(of: Set(badConfigs.map(\.name))))
        var badFiles: [String: BadConfig] = [:]
        for (i, config) in badConfigs.enumerated() {
            let path = dir.file("bad-\(i).json")
            try config.text.write(toFile: path, atomically: true, encoding: .utf8)
            badFiles[path] = config
        }
        let script = """
        import json, sys
        from jsonschema import Draft202012Validator
        schema = json.load(open(sys.argv[1], encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema)
        result = {}
        for path in sys.argv[2:]:
            document = json.load(open(path, encoding="utf-8"))
            result[path] = [e.json_path + ": " + e.message for e in validator.iter_errors(document)]
        print(json.dumps(result))
        """
        let files = Self.exampleFiles + badFiles.keys.sorted()
        let run = try runCommand("/usr/bin/env", ["python3", "-c", script, F.schemaPath] + files, timeout: .seconds(60))
        try #require(run.status == 0, "python failed: \(run.stderr)")
        let result = try JSONParser.parse(run.stdout)
        for file in Self.exampleFiles {
            #expect(result[file]?.arrayValue == [], "\(file) fails the schema: \(result[file]?.brief ?? "-")")
        }
        for (path, config) in badFiles {
            let schemaErrors = result[path]?.arrayValue?.count ?? -1
            if Self.loaderOnlyBadConfigs.contains(config.name) {
                #expect(schemaErrors == 0, "schema rejects \"\(config.name)\", listed as loader-only: \(result[path]?.brief ?? "-")")
            } else {
                #expect(schemaErrors > 0, "schema accepts bad config \"\(config.name)\"")
            }
        }
    }

    /// Every range and list of allowed values in the schema is the loader's.
    @Test func schemaRangesAreTheLoaderRanges() throws {
        let schema = try schema()
        typealias L = ConfigurationLoader
        let bus = ["$defs", "bus", "properties"]
        let ranges: [([String], ClosedRange<Int>)] = [
            (bus + ["rs485", "properties", "delayBeforeSendMilliseconds"], L.rtsDelayRange),
            (bus + ["rs485", "properties", "delayAfterSendMilliseconds"], L.rtsDelayRange),
            (bus + ["responseTimeoutMilliseconds", "properties", "min"], L.responseTimeoutRange),
            (bus + ["responseTimeoutMilliseconds", "properties", "max"], L.responseTimeoutRange),
            (bus + ["interFrameGapMilliseconds"], L.interFrameGapRange),
            (bus + ["retries"], L.retriesRange),
            (["$defs", "modbusAddress"], L.modbusAddressRange),
            (["$defs", "hdlcAddress"], L.hdlcAddressRange),
            (["$defs", "archive", "properties", "retentionDays"], L.retentionDaysRange),
            (["$defs", "polling", "properties", "live", "properties", "periodSeconds"], L.livePeriodRange),
            (["$defs", "broker", "properties", "port"], L.portRange),
            (["$defs", "broker", "properties", "keepaliveSeconds"], L.keepaliveRange),
            (["$defs", "broker", "properties", "sessionExpirySeconds"], L.sessionExpiryRange),
            (["$defs", "uplink", "properties", "drain", "properties", "maxBytesPerSecond"], L.drainRateRange),
            (["$defs", "uplink", "properties", "acknowledgementTimeoutSeconds"], L.acknowledgementTimeoutRange),
            (["$defs", "uplink", "properties", "configTrialSeconds"], L.configTrialRange),
        ]
        for (pointer, range) in ranges {
            #expect(node(schema, pointer + ["minimum"])?.intValue == range.lowerBound, "\(pointer.joined(separator: "/"))")
            #expect(node(schema, pointer + ["maximum"])?.intValue == range.upperBound, "\(pointer.joined(separator: "/"))")
        }
        let counts: [([String], ClosedRange<Int>)] = [
            (["properties", "buses"], L.busCountRange),
            (["$defs", "polling", "properties", "live", "properties", "quantities"], L.liveQuantityCountRange),
            (["$defs", "uplink", "properties", "headEndKeys"], L.headEndKeyCountRange),
        ]
        for (pointer, range) in counts {
            #expect(node(schema, pointer + ["minItems"])?.intValue == range.lowerBound, "\(pointer.joined(separator: "/"))")
            #expect(node(schema, pointer + ["maxItems"])?.intValue == range.upperBound, "\(pointer.joined(separator: "/"))")
        }
        #expect(node(schema, ["properties", "meters", "maxItems"])?.intValue == L.maxMetersPerBus * L.busCountRange.upperBound)
        #expect(node(schema, ["$defs", "device", "properties", "profileDirectories", "maxItems"])?.intValue == L.maxProfileDirectories)
        func allowed(_ pointer: [String]) -> [Int] {
            (node(schema, pointer + ["enum"])?.arrayValue ?? []).compactMap(\.intValue)
        }
        #expect(allowed(bus + ["baud"]) == L.standardBaudRates)
        #expect(allowed(["$defs", "archive", "properties", "intervalMinutes"]) == L.archiveIntervals)
        #expect(allowed(["$defs", "archive", "properties", "profileIntervalMinutes"]) == L.profileIntervals)
        #expect(node(schema, ["$defs", "meter", "properties", "protocol", "enum"])?.arrayValue?.compactMap(\.stringValue)
            == MeterProtocolKind.allCases.map(\.rawValue))
    }

    /// Every default written in the schema is the model's default.
    @Test func schemaDefaultsAreTheModelDefaults() throws {
        let schema = try schema()
        let device = DeviceSettings(id: "x")
        let bus = BusSettings(name: "x", device: "/x")
        let archive = ArchiveSettings()
        let q = JSONWriter.quote
        let expected: [([String], String)] = [
            (["$defs", "device", "properties", "stateDirectory"], q(device.stateDirectory)),
            (["$defs", "device", "properties", "runtimeDirectory"], q(device.runtimeDirectory)),
            (["$defs", "device", "properties", "profileDirectories"], "[" + device.profileDirectories.map(q).joined(separator: ",") + "]"),
            (["$defs", "bus", "properties", "baud"], "\(bus.line.baud)"),
            (["$defs", "bus", "properties", "dataBits"], "\(bus.line.dataBits)"),
            (["$defs", "bus", "properties", "parity"], q(bus.line.parity.rawValue)),
            (["$defs", "bus", "properties", "stopBits"], "\(bus.line.stopBits)"),
            (["$defs", "bus", "properties", "rs485", "properties", "enabled"], "\(bus.rs485.enabled)"),
            (["$defs", "bus", "properties", "rs485", "properties", "rtsActiveHigh"], "\(bus.rs485.rtsActiveHigh)"),
            (["$defs", "bus", "properties", "rs485", "properties", "delayBeforeSendMilliseconds"],
             "\(bus.rs485.delayBeforeSendMilliseconds)"),
            (["$defs", "bus", "properties", "rs485", "properties", "delayAfterSendMilliseconds"],
             "\(bus.rs485.delayAfterSendMilliseconds)"),
            (["$defs", "bus", "properties", "responseTimeoutMilliseconds", "properties", "min"],
             "\(bus.responseTimeoutMilliseconds.lowerBound)"),
            (["$defs", "bus", "properties", "responseTimeoutMilliseconds", "properties", "max"],
             "\(bus.responseTimeoutMilliseconds.upperBound)"),
            (["$defs", "bus", "properties", "interFrameGapMilliseconds"], "\(bus.interFrameGapMilliseconds)"),
            (["$defs", "bus", "properties", "retries"], "\(bus.retries)"),
            (["$defs", "meter", "properties", "protocol"], q(MeterSettings(id: "x", bus: "x", address: .modbus(1), profile: "x").protocolKind.rawValue)),
            (["$defs", "archive", "properties", "intervalMinutes"], "\(archive.intervalMinutes)"),
            (["$defs", "archive", "properties", "retentionDays"], "\(archive.retentionDays)"),
            (["$defs", "polling", "properties", "live", "properties", "periodSeconds"],
             "\(ConfigurationLoader.defaultLivePeriodSeconds)"),
            (["$defs", "uplink", "properties", "topicPrefix"], q(UplinkSettings.defaultTopicPrefix)),
            (["$defs", "uplink", "properties", "drain", "properties", "maxBytesPerSecond"], "\(DrainSettings().maxBytesPerSecond)"),
            (["$defs", "uplink", "properties", "drain", "properties", "order"], q(DrainSettings().order.rawValue)),
            (["$defs", "uplink", "properties", "acknowledgementTimeoutSeconds"],
             "\(UplinkSettings(broker: BrokerSettings(host: "h"), headEndKeyFiles: []).acknowledgementTimeoutSeconds)"),
            (["$defs", "uplink", "properties", "configTrialSeconds"],
             "\(UplinkSettings(broker: BrokerSettings(host: "h"), headEndKeyFiles: []).configTrialSeconds)"),
            (["$defs", "broker", "properties", "keepaliveSeconds"], "\(BrokerSettings(host: "h").keepaliveSeconds)"),
            (["$defs", "broker", "properties", "sessionExpirySeconds"], "\(BrokerSettings(host: "h").sessionExpirySeconds)"),
        ]
        for (pointer, value) in expected {
            let found = node(schema, pointer + ["default"]).map { JSONWriter.render($0, pretty: false) }
            #expect(found == value, "\(pointer.joined(separator: "/"))")
        }
        #expect(archive.profileIntervalMinutes == nil)
        #expect(node(schema, ["$defs", "archive", "properties", "profileIntervalMinutes", "default"]) == nil)
    }

    /// At every level, the schema's properties are exactly the keys the loader knows (which it lists
    /// when it meets an unknown key), and its required keys are the ones the loader requires.
    @Test func schemaKeysAreTheLoaderKeys() throws {
        let schema = try schema()
        let bus = #"{"name": "bus1", "device": "/dev/ttyS1"}"#
        let levels: [(schema: [String], text: String, path: String)] = [
            ([], F.document(extra: #""zzz": 1"#), "$"),
            (["$defs", "device"], F.document(device: #"{"id": "gw-1", "zzz": 1}"#), "$.device"),
            (["$defs", "bus"], F.document(buses: #"[{"name": "bus1", "device": "/dev/ttyS1", "zzz": 1}]"#), "$.buses[0]"),
            (["$defs", "bus", "properties", "rs485"],
             F.document(buses: #"[{"name": "bus1", "device": "/dev/ttyS1", "rs485": {"zzz": 1}}]"#), "$.buses[0].rs485"),
            (["$defs", "bus", "properties", "responseTimeoutMilliseconds"],
             F.document(buses: #"[{"name": "bus1", "device": "/dev/ttyS1", "responseTimeoutMilliseconds": {"zzz": 1}}]"#),
             "$.buses[0].responseTimeoutMilliseconds"),
            (["$defs", "meter"], F.document(buses: "[\(bus)]", meters: [F.meter("m1", address: 1, more: #", "zzz": 1"#)]),
             "$.meters[0]"),
            (["$defs", "archive"], F.document(extra: #""archive": {"zzz": 1}"#), "$.archive"),
            (["$defs", "polling"], F.document(extra: #""polling": {"zzz": 1}"#), "$.polling"),
            (["$defs", "polling", "properties", "live"],
             F.document(extra: #""polling": {"live": {"quantities": ["frequency"], "zzz": 1}}"#), "$.polling.live"),
            (["$defs", "uplink"], F.document(extra: #""uplink": {"broker": {"host": "h"}, "headEndKeys": ["/k"], "zzz": 1}"#), "$.uplink"),
            (["$defs", "broker"], F.document(extra: #""uplink": {"broker": {"host": "h", "zzz": 1}, "headEndKeys": ["/k"]}"#),
             "$.uplink.broker"),
            (["$defs", "brokerTLS"], F.document(extra: #""uplink": {"broker": {"host": "h", "tls": {"zzz": 1}}, "headEndKeys": ["/k"]}"#),
             "$.uplink.broker.tls"),
            (["$defs", "uplink", "properties", "drain"],
             F.document(extra: #""uplink": {"broker": {"host": "h"}, "headEndKeys": ["/k"], "drain": {"zzz": 1}}"#), "$.uplink.drain"),
        ]
        for level in levels {
            let issues = try #require(F.issues(level.text), "\(level.path)")
            let unknown = try #require(issues.first { $0.path == level.path + ".zzz" }, "\(level.path): \(issues)")
            let loaderKeys = (unknown.expected ?? "").components(separatedBy: ", ").sorted()
            let schemaKeys = (node(schema, level.schema + ["properties"])?.members ?? []).map(\.key).sorted()
            #expect(loaderKeys == schemaKeys, "\(level.path)")
        }

        let required: [(schema: [String], text: String, path: String)] = [
            ([], "{}", "$"),
            (["$defs", "device"], F.document(device: "{}"), "$.device"),
            (["$defs", "bus"], F.document(buses: "[{}]"), "$.buses[0]"),
            (["$defs", "meter"], F.document(meters: ["{}"]), "$.meters[0]"),
            (["$defs", "polling", "properties", "live"], F.document(extra: #""polling": {"live": {}}"#), "$.polling.live"),
            (["$defs", "uplink"], F.document(extra: #""uplink": {}"#), "$.uplink"),
            (["$defs", "broker"], F.document(extra: #""uplink": {"broker": {}, "headEndKeys": ["/k"]}"#), "$.uplink.broker"),
        ]
        for level in required {
            let issues = F.issues(level.text) ?? []
            let loaderRequired = issues.filter { $0.problem == "missing required key" }
                .map { String($0.path.dropFirst(level.path.count + 1)) }.sorted()
            let schemaRequired = (node(schema, level.schema + ["required"])?.arrayValue ?? []).compactMap(\.stringValue).sorted()
            #expect(loaderRequired == schemaRequired, "\(level.path)")
        }
    }

    @Test func schemaQuantitiesAreTheCatalog() throws {
        let names = node(try schema(), ["$defs", "quantity", "enum"])?.arrayValue?.compactMap(\.stringValue)
        #expect(names == QuantityCatalog.all.map(\.id.rawValue))
    }
}
