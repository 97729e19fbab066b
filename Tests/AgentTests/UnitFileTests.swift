import Foundation
import Testing
import TestSupport
@testable import Agent

/// Systemd/concentrator.service and the agent agree: the stop budget fits in TimeoutStopSec, a
/// configuration error (78) is not restarted, the watchdog is on, the agent runs unprivileged.
@Suite struct UnitFileTests {
    static func settings() throws -> [String: [String]] {
        let text = try String(contentsOfFile: BuiltProducts.packageRoot + "/Systemd/concentrator.service", encoding: .utf8)
        var out: [String: [String]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && line.contains("=") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            out[parts[0], default: []].append(parts.count > 1 ? parts[1] : "")
        }
        return out
    }

    private func seconds(_ value: String?) -> Int? { value.flatMap { Int($0.replacingOccurrences(of: "s", with: "")) } }

    @Test func unitMatchesTheAgent() throws {
        let s = try Self.settings()
        #expect(s["Type"] == ["notify"])
        #expect(s["Restart"] == ["always"])
        #expect(s["RestartPreventExitStatus"] == ["78"])
        #expect(s["User"] == ["concentrator"])
        #expect(s["SupplementaryGroups"]?.first?.contains("dialout") == true)
        let stop = try #require(seconds(s["TimeoutStopSec"]?.first))
        let budget = Int(AgentOptions().stopBudget.components.seconds)
        #expect(stop >= budget + 5, "TimeoutStopSec=\(stop) leaves no room after the \(budget) s bus budget")
        let watchdog = try #require(seconds(s["WatchdogSec"]?.first))
        // The longest meter poll must fit in half the period (a poll marks progress when it ends):
        // 4 blocks at the largest response timeout (10 s) would not, so the period is generous.
        #expect(watchdog >= 30)
        for key in ["StateDirectory", "ConfigurationDirectory", "RuntimeDirectory"] { #expect(s[key] == ["concentrator"], "\(key)") }
        for key in ["NoNewPrivileges", "ProtectHome", "PrivateTmp"] { #expect(s[key] == ["yes"], "\(key)") }
        #expect(s["ProtectSystem"] == ["strict"])
        #expect(s["DevicePolicy"] == ["closed"])
        #expect(s["DeviceAllow"]?.contains("char-ttyUSB rw") == true)
        #expect(s["MemoryMax"] != nil)
        #expect(s["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"])
        #expect(s["SystemCallFilter"]?.first == "@system-service")
        // Platform.ClockSynchronisation reads adjtimex: it must be allowed after the deny list (which
        // removes @clock with @privileged), and ProtectClock= would deny it again.
        #expect(s["SystemCallFilter"]?.last == "adjtimex")
        #expect(s["ProtectClock"] == nil)
    }
}
