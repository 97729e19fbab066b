import Foundation
import Testing
import TestSupport
@testable import ConcentratorCore

/// Profiles and config snippets shared by the configuration tests. The profile facts are written by
/// hand here (the real profiles are data files owned by the profile loader).
enum ConfigurationFixtures {
    static let context = ConfigurationContext(profiles: [
        "eastron-sdm630": .init(protocolKind: .modbus, quantities: [
            "voltage_l1", "voltage_l2", "voltage_l3", "current_l1", "current_l2", "current_l3",
            "active_power_total", "active_power_l1", "active_power_l2", "active_power_l3", "frequency",
            "power_factor_total", "active_energy_import", "active_energy_export",
        ]),
        "eastron-sdm120": .init(protocolKind: .modbus, quantities: [
            "voltage_l1", "current_l1", "active_power_total", "frequency", "active_energy_import", "active_energy_export",
        ]),
        "abb-b23": .init(protocolKind: .modbus, quantities: [
            "voltage_l1", "voltage_l2", "voltage_l3", "active_power_total", "active_energy_import", "active_energy_export",
        ]),
        "carlo-gavazzi-em24": .init(protocolKind: .modbus, quantities: [
            "voltage_l1", "voltage_l2", "voltage_l3", "active_power_total", "frequency", "active_energy_import",
        ]),
        "finder-7m": .init(protocolKind: .modbus, quantities: ["voltage_l1", "active_power_total", "active_energy_import"]),
        "landis-e450": .init(protocolKind: .dlms, quantities: ["active_energy_import"]),
        "iskra-mt174": .init(protocolKind: .iec62056_21, quantities: ["active_energy_import", "active_energy_export"]),
    ])

    /// A valid config assembled from fragments, each replaceable by a test case. The line layout is
    /// fixed: device on line 2, buses on line 3, meters from line 4 (one per line), then archive/extra.
    static func document(device: String = #"{"id": "gw-1"}"#,
                         buses: String = #"[{"name": "bus1", "device": "/dev/ttyS1"}, {"name": "bus2", "device": "/dev/ttyS2"}]"#,
                         meters: [String] = [meter("m1", address: 1), meter("m2", address: 2, bus: "bus2")],
                         extra: String = "") -> String {
        var text = "{\n"
        text += "  \"device\": \(device),\n"
        text += "  \"buses\": \(buses),\n"
        text += "  \"meters\": [\n    " + meters.joined(separator: ",\n    ") + "\n  ]"
        if !extra.isEmpty { text += ",\n  " + extra }
        return text + "\n}\n"
    }

    static func meter(_ id: String, address: Int, bus: String = "bus1", profile: String = "eastron-sdm630",
                      more: String = "") -> String {
        #"{"id": "\#(id)", "bus": "\#(bus)", "address": \#(address), "profile": "\#(profile)"\#(more)}"#
    }

    /// The issues the loader reports for `text`, or nil when it accepts the document.
    static func issues(_ text: String) -> [ValidationIssue]? {
        do {
            _ = try ConfigurationLoader.load(text: text, source: "test.json", context: context)
            return nil
        } catch {
            return error.issues
        }
    }

    static func examplePath(_ name: String) -> String { BuiltProducts.packageRoot + "/Docs/examples/" + name }
    static var schemaPath: String { BuiltProducts.packageRoot + "/Docs/config.schema.json" }

    static func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
}
