import Testing
@testable import ConcentratorCore

/// One expected issue: its JSON path and words its message must contain.
struct ExpectedIssue: Sendable {
    let path: String
    let words: [String]
    init(_ path: String, _ words: String...) {
        self.path = path
        self.words = words
    }
}

/// A bad config and every issue the loader must report for it, in order.
struct BadConfig: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    let expected: [ExpectedIssue]
    var testDescription: String { name }

    init(_ name: String, _ text: String, _ expected: ExpectedIssue...) {
        self.name = name
        self.text = text
        self.expected = expected
    }
}

private typealias F = ConfigurationFixtures

private func bus(_ more: String, name: String = "bus1", device: String = "/dev/ttyS1") -> String {
    #"[{"name": "\#(name)", "device": "\#(device)"\#(more)}, {"name": "bus2", "device": "/dev/ttyS2"}]"#
}

/// The acceptance table: each bad config with the exact issues it must produce.
let badConfigs: [BadConfig] = [
    // Unknown keys, at every level.
    BadConfig("unknown top-level key", F.document(extra: #""logging": {}"#),
              ExpectedIssue("$.logging", "unknown key", "archive, buses, device, mesh, meters, monitoring, polling, uplink")),
    BadConfig("unknown device key", F.document(device: #"{"id": "gw-1", "name": "x"}"#),
              ExpectedIssue("$.device.name", "unknown key", "id, profileDirectories, runtimeDirectory, stateDirectory")),
    BadConfig("unknown bus key", F.document(buses: bus(#", "speed": 9600"#)),
              ExpectedIssue("$.buses[0].speed", "unknown key", "baud", "dataBits", "retries")),
    BadConfig("unknown rs485 key", F.document(buses: bus(#", "rs485": {"enable": true}"#)),
              ExpectedIssue("$.buses[0].rs485.enable", "unknown key", "enabled", "rtsActiveHigh")),
    BadConfig("unknown meter key", F.document(meters: [F.meter("m1", address: 1, more: #", "adress": 3"#)]),
              ExpectedIssue("$.meters[0].adress", "unknown key", "address", "profile", "serialNumber")),
    BadConfig("unknown archive key", F.document(extra: #""archive": {"retention": 40}"#),
              ExpectedIssue("$.archive.retention", "unknown key", "retentionDays")),
    // Wrong types.
    BadConfig("device is a string", F.document(device: #""gw-1""#),
              ExpectedIssue("$.device", "wrong type", #"got "gw-1""#, "an object")),
    BadConfig("baud as a string", F.document(buses: bus(#", "baud": "9600""#)),
              ExpectedIssue("$.buses[0].baud", "wrong type", #"got "9600""#, "an integer")),
    BadConfig("meters is an object", #"{"device": {"id": "gw-1"}, "buses": [{"name": "b", "device": "/dev/ttyS1"}], "meters": {"m1": 1}}"#,
              ExpectedIssue("$.meters", "wrong type", "an array of meters")),
    BadConfig("modbus address as a string", F.document(meters: [#"{"id": "m1", "bus": "bus1", "address": "1", "profile": "abb-b23"}"#]),
              ExpectedIssue("$.meters[0].address", "wrong type", #"got "1""#, "1–247")),
    BadConfig("rs485 enabled as a number", F.document(buses: bus(#", "rs485": {"enabled": 1}"#)),
              ExpectedIssue("$.buses[0].rs485.enabled", "wrong type", "got 1", "true or false")),
    // Out of range and not allowed.
    BadConfig("non-standard baud", F.document(buses: bus(#", "baud": 9601"#)),
              ExpectedIssue("$.buses[0].baud", "not one of the allowed values", "got 9601", "300", "9600", "115200")),
    BadConfig("nine data bits", F.document(buses: bus(#", "dataBits": 9"#)),
              ExpectedIssue("$.buses[0].dataBits", "not one of the allowed values", "got 9", "7, 8")),
    BadConfig("mark parity", F.document(buses: bus(#", "parity": "mark""#)),
              ExpectedIssue("$.buses[0].parity", "not one of the allowed values", "none, even, odd")),
    BadConfig("three stop bits", F.document(buses: bus(#", "stopBits": 3"#)),
              ExpectedIssue("$.buses[0].stopBits", "got 3", "1, 2")),
    BadConfig("timeout min above max", F.document(buses: bus(#", "responseTimeoutMilliseconds": {"min": 2000, "max": 500}"#)),
              ExpectedIssue("$.buses[0].responseTimeoutMilliseconds", "min is greater than max", "min 2000, max 500", "min ≤ max")),
    BadConfig("timeout min above the default max", F.document(buses: bus(#", "responseTimeoutMilliseconds": {"min": 3000}"#)),
              ExpectedIssue("$.buses[0].responseTimeoutMilliseconds", "max defaults to 1000", "min 3000, max 1000")),
    BadConfig("timeout min too small", F.document(buses: bus(#", "responseTimeoutMilliseconds": {"min": 5}"#)),
              ExpectedIssue("$.buses[0].responseTimeoutMilliseconds.min", "out of range", "got 5", "20–10000")),
    BadConfig("inter-frame gap too long", F.document(buses: bus(#", "interFrameGapMilliseconds": 1500"#)),
              ExpectedIssue("$.buses[0].interFrameGapMilliseconds", "out of range", "got 1500", "0–1000")),
    BadConfig("four retries", F.document(buses: bus(#", "retries": 4"#)),
              ExpectedIssue("$.buses[0].retries", "out of range", "got 4", "0–3")),
    BadConfig("RTS delay above the kernel limit", F.document(buses: bus(#", "rs485": {"delayAfterSendMilliseconds": 200}"#)),
              ExpectedIssue("$.buses[0].rs485.delayAfterSendMilliseconds", "out of range", "0–100")),
    BadConfig("modbus address zero", F.document(meters: [F.meter("m1", address: 0)]),
              ExpectedIssue("$.meters[0].address", "out of range", "got 0", "1–247")),
    BadConfig("modbus address 248", F.document(meters: [F.meter("m1", address: 248)]),
              ExpectedIssue("$.meters[0].address", "out of range", "got 248", "1–247")),
    BadConfig("retention too long", F.document(extra: #""archive": {"retentionDays": 60}"#),
              ExpectedIssue("$.archive.retentionDays", "out of range", "got 60", "30–45")),
    BadConfig("archive interval of 20 minutes", F.document(extra: #""archive": {"intervalMinutes": 20}"#),
              ExpectedIssue("$.archive.intervalMinutes", "got 20", "15, 30, 60")),
    BadConfig("profile interval of 7 minutes", F.document(extra: #""archive": {"profileIntervalMinutes": 7}"#),
              ExpectedIssue("$.archive.profileIntervalMinutes", "got 7", "5, 10, 15, 30")),
    BadConfig("profile interval not dividing the interval", F.document(extra: #""archive": {"intervalMinutes": 15, "profileIntervalMinutes": 10}"#),
              ExpectedIssue("$.archive.profileIntervalMinutes", "does not fit the archive interval of 15 minutes", "got 10", ": 5")),
    // Formats.
    BadConfig("device id with a space", F.document(device: #"{"id": "gw 1"}"#),
              ExpectedIssue("$.device.id", "invalid characters", #"got "gw 1""#, "1–64 characters")),
    BadConfig("device id too long", F.document(device: #"{"id": "\#(String(repeating: "g", count: 65))"}"#),
              ExpectedIssue("$.device.id", "too long", "at most 64 characters")),
    BadConfig("relative bus device", F.document(buses: bus("", device: "ttyS1")),
              ExpectedIssue("$.buses[0].device", "not an absolute path", #"got "ttyS1""#)),
    BadConfig("relative profile directory", F.document(device: #"{"id": "gw-1", "profileDirectories": ["profiles"]}"#),
              ExpectedIssue("$.device.profileDirectories[0]", "not an absolute path")),
    BadConfig("control character in a POD", F.document(meters: [F.meter("m1", address: 1, more: #", "pod": "IT\u0007001""#)]),
              ExpectedIssue("$.meters[0].pod", "contains control characters")),
    BadConfig("label too long", F.document(meters: [F.meter("m1", address: 1, more: #", "label": "\#(String(repeating: "x", count: 129))""#)]),
              ExpectedIssue("$.meters[0].label", "too long", "at most 128")),
    // Missing things.
    BadConfig("no device id", F.document(device: "{}"), ExpectedIssue("$.device.id", "missing required key")),
    BadConfig("no device section", #"{"buses": [{"name": "b", "device": "/dev/ttyS1"}], "meters": []}"#,
              ExpectedIssue("$.device", "missing required key")),
    BadConfig("no buses", F.document(buses: "[]"), ExpectedIssue("$.buses", "too few entries", "got 0 buses", "1–16 buses")),
    BadConfig("meter without profile", F.document(meters: [#"{"id": "m1", "bus": "bus1", "address": 1}"#]),
              ExpectedIssue("$.meters[0].profile", "missing required key")),
    // Duplicates and references.
    BadConfig("duplicate key", F.document(device: #"{"id": "gw-1", "id": "gw-2"}"#), ExpectedIssue("$.device.id", "duplicate key")),
    BadConfig("duplicate meter id", F.document(meters: [F.meter("m1", address: 1), F.meter("m1", address: 2)]),
              ExpectedIssue("$.meters[1].id", "duplicate meter id", #"got "m1""#, "$.meters[0] has it")),
    BadConfig("duplicate bus name", F.document(buses: bus("", name: "bus2")),
              ExpectedIssue("$.buses[1].name", "duplicate bus name", "$.buses[0] has it"),
              ExpectedIssue("$.meters[0].bus", "unknown bus", #"got "bus1""#, "bus2")),
    BadConfig("two buses on one port", F.document(buses: bus("", device: "/dev/ttyS2")),
              ExpectedIssue("$.buses[1].device", #"port already used by bus "bus1" ($.buses[0])"#, "one bus per port")),
    BadConfig("two meters on one address", F.document(meters: [F.meter("m1", address: 7), F.meter("m2", address: 7)]),
              ExpectedIssue("$.meters[1].address", #"address already used on bus "bus1" by meter "m1" ($.meters[0])"#, "got 7")),
    BadConfig("65 meters on one bus", F.document(meters: (1...65).map { F.meter("m\($0)", address: $0) }),
              ExpectedIssue("$.meters[64].bus", #"too many meters on bus "bus1" (65 configured"#, "at most 64 meters per bus")),
    BadConfig("unknown bus", F.document(meters: [F.meter("m1", address: 1, bus: "bus9")]),
              ExpectedIssue("$.meters[0].bus", "unknown bus", #"got "bus9""#, "one of the configured buses: bus1, bus2")),
    BadConfig("unknown profile", F.document(meters: [F.meter("m1", address: 1, profile: "sdm999")]),
              ExpectedIssue("$.meters[0].profile", "unknown profile", #"got "sdm999""#, "abb-b23, carlo-gavazzi-em24, eastron-sdm120")),
    // Protocols.
    BadConfig("unknown protocol", F.document(meters: [F.meter("m1", address: 1, more: #", "protocol": "bacnet""#)]),
              ExpectedIssue("$.meters[0].protocol", "not one of the allowed values", "modbus, iec62056-21, dlms, mbus, wmbus")),
    BadConfig("DLMS meter with a Modbus profile", F.document(meters: [F.meter("m1", address: 17, more: #", "protocol": "dlms""#)]),
              ExpectedIssue("$.meters[0].protocol", "protocol not supported by this build yet", #"got "dlms""#, "allowed: modbus"),
              ExpectedIssue("$.meters[0].profile", "profile is for protocol modbus, but the meter's protocol is dlms", "landis-e450")),
    BadConfig("IEC meter", F.document(meters: [#"{"id": "m1", "bus": "bus1", "protocol": "iec62056-21", "address": "12345678", "profile": "iskra-mt174"}"#]),
              ExpectedIssue("$.meters[0].protocol", "protocol not supported by this build yet", #"got "iec62056-21""#)),
    BadConfig("IEC address with a delimiter", F.document(meters: [#"{"id": "m1", "bus": "bus1", "protocol": "iec62056-21", "address": "12!4", "profile": "iskra-mt174"}"#]),
              ExpectedIssue("$.meters[0].protocol", "protocol not supported by this build yet"),
              ExpectedIssue("$.meters[0].address", "not a valid IEC 62056-21 device address", "'/', '?', '!'")),
    BadConfig("HDLC address out of range", F.document(meters: [#"{"id": "m1", "bus": "bus1", "protocol": "dlms", "address": 5, "profile": "landis-e450"}"#]),
              ExpectedIssue("$.meters[0].protocol", "protocol not supported by this build yet"),
              ExpectedIssue("$.meters[0].address", "out of range", "16–16381")),
    // Live cadence.
    BadConfig("unknown live quantity", F.document(extra: #""polling": {"live": {"quantities": ["power"]}}"#),
              ExpectedIssue("$.polling.live.quantities[0]", "unknown quantity", #"got "power""#, "voltage_l1")),
    BadConfig("live quantity no meter reads", F.document(extra: #""polling": {"live": {"quantities": ["water_volume"]}}"#),
              ExpectedIssue("$.polling.live.quantities[0]", "not read by any configured meter", "active_power_total")),
    BadConfig("duplicate live quantity", F.document(extra: #""polling": {"live": {"quantities": ["frequency", "frequency"]}}"#),
              ExpectedIssue("$.polling.live.quantities[1]", "duplicate quantity")),
    BadConfig("live without quantities", F.document(extra: #""polling": {"live": {"periodSeconds": 5}}"#),
              ExpectedIssue("$.polling.live.quantities", "missing required key")),
    BadConfig("live period zero", F.document(extra: #""polling": {"live": {"periodSeconds": 0, "quantities": ["frequency"]}}"#),
              ExpectedIssue("$.polling.live.periodSeconds", "out of range", "1–3600")),
    // The uplink section.
    BadConfig("uplink without broker and keys", F.document(extra: #""uplink": {}"#),
              ExpectedIssue("$.uplink.broker", "missing required key"), ExpectedIssue("$.uplink.headEndKeys", "missing required key")),
    BadConfig("broker port out of range", F.document(extra: #""uplink": {"broker": {"host": "mqtt.example.net", "port": 70000}, "headEndKeys": ["/etc/k.json"]}"#),
              ExpectedIssue("$.uplink.broker.port", "out of range", "1–65535")),
    BadConfig("password inline", F.document(extra: #""uplink": {"broker": {"host": "mqtt.example.net", "password": "hunter2"}, "headEndKeys": ["/etc/k.json"]}"#),
              ExpectedIssue("$.uplink.broker.password", "do not belong", "passwordFile")),
    BadConfig("client certificate without its key", F.document(extra: #""uplink": {"broker": {"host": "h", "tls": {"certificateFile": "/etc/c.pem"}}, "headEndKeys": ["/etc/k.json"]}"#),
              ExpectedIssue("$.uplink.broker.tls", "certificateFile and keyFile go together")),
    BadConfig("relative head-end key path", F.document(extra: #""uplink": {"broker": {"host": "h"}, "headEndKeys": ["keys/k.json"]}"#),
              ExpectedIssue("$.uplink.headEndKeys[0]", "not an absolute path")),
    BadConfig("unknown drain order", F.document(extra: #""uplink": {"broker": {"host": "h"}, "headEndKeys": ["/k.json"], "drain": {"order": "random"}}"#),
              ExpectedIssue("$.uplink.drain.order", "not one of the allowed values", "oldest-first, newest-first")),
    BadConfig("wildcard in the topic prefix", F.document(extra: #""uplink": {"broker": {"host": "h"}, "headEndKeys": ["/k.json"], "topicPrefix": "a/+/b"}"#),
              ExpectedIssue("$.uplink.topicPrefix", "not a usable topic prefix")),
    BadConfig("a configuration trial too short to reconnect", F.document(extra: #""uplink": {"broker": {"host": "h"}, "headEndKeys": ["/k.json"], "configTrialSeconds": 2}"#),
              ExpectedIssue("$.uplink.configTrialSeconds", "out of range", "5–86400")),
]

@Suite struct ConfigurationRejectionTests {
    @Test func tableIsLargeEnough() {
        #expect(badConfigs.count >= 20)
    }

    @Test(arguments: badConfigs)
    func rejects(_ bad: BadConfig) throws {
        let issues = try #require(F.issues(bad.text), "\(bad.name): accepted")
        #expect(issues.map(\.path) == bad.expected.map(\.path), "\(bad.name): \(issues)")
        for (issue, expected) in zip(issues, bad.expected) {
            for word in expected.words {
                #expect(issue.description.contains(word), "\(bad.name): \"\(word)\" missing from: \(issue)")
            }
            #expect(issue.line != nil, "\(bad.name): no line in \(issue)")
        }
    }
}
