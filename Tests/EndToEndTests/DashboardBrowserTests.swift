import ConcentratorCore
import Foundation
import Platform
import Testing
import TestSupport

/// The web dashboard in a real browser (Debian's Chromium, headless, over the DevTools pipe) against
/// the real processes: mosquitto on loopback, meter-sim, the agent and `headend run --web`. Logs in,
/// opens the fleet page, opens the device's chart, sends a `ping` from the page and finds the agent's
/// verified reply on the page; then checks /metrics. Screenshots go to out/test-output/dashboard/
/// (or $TEST_OUTPUT_DIR/dashboard/).
@Suite(.serialized, .timeLimit(.minutes(4)))
struct DashboardBrowserTests {
    static var outputDirectory: String {
        let base = ProcessInfo.processInfo.environment["TEST_OUTPUT_DIR"] ?? BuiltProducts.packageRoot + "/out/test-output"
        let dir = base + "/dashboard"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func logInSeeTheFleetOpenAChartAndPingTheAgentFromThePage() async throws {
        guard let executable = HeadlessChromium.executable() else {
            Issue.record("chromium is not installed (scripts/install-deps.sh installs it)")
            return
        }
        let port = freeLoopbackPort()
        let password = "operator-password-\(UInt32.random(in: 0...UInt32.max))"
        let f = try await CommandField(headendArguments: ["--web", "127.0.0.1:\(port)"], beforeHeadEndStarts: { config, dir in
            try password.write(toFile: dir.file("password"), atomically: true, encoding: .utf8)
            let added = try runCommand(BuiltProducts.path("headend"), ["users", "add", "--config", config, "--name", "olga", "--role", "operator",
                                                                       "--password-file", dir.file("password")])
            guard added.status == 0 else { throw HarnessError("users add: \(added.stderr)") }
        }, beforeAgentStarts: CommandEndToEndTests.archiveOldSnapshot)
        #expect(f.headend.waitForOutput("dashboard listening on http://127.0.0.1:\(port)/", inStderr: true, timeout: .seconds(20)),
                "\(f.headend.stderr.suffix(2000))")
        #expect(try await f.waitUntilCommandable(), "\(f.agent.log.suffix(2000))")
        // The agent's first hourly snapshot may be an hour away: yesterday's archived snapshot is sent again
        // (`backfill`), so that the chart has a value to show.
        let yesterday = CommandEndToEndTests.yesterday
        let backfill = try await f.command("backfill", ["from=\(ISO8601.format(yesterday))", "to=\(ISO8601.format(yesterday.adding(seconds: 3600)))"])
        #expect(backfill.code == "ok", "\(backfill)")
        let stored = await eventuallyAsync(timeout: .seconds(30)) {
            let r = try? runCommand(BuiltProducts.path("headend"), ["export", "--config", f.headendConfig, "--device", CommandField.device,
                                                                     "--from", ISO8601.format(yesterday), "--to", ISO8601.format(yesterday.adding(seconds: 3600)),
                                                                     "--format", "csv"])
            return r?.stdout.contains("bus1-m2,voltage_l1,231.5,V") == true
        }
        #expect(stored, "the backfilled snapshot reached the head-end")
        let chartFrom = ISO8601.format(yesterday.adding(seconds: -86_400)), chartTo = ISO8601.format(yesterday.adding(seconds: 86_400))
        let base = "http://127.0.0.1:\(port)"
        let output = Self.outputDirectory
        let dir = f.dir
        let checks = try await runOnDedicatedThread { () -> [String: String] in
            let browser = try HeadlessChromium(executable: executable)
            var seen: [String: String] = [:]
            try browser.call("Page.enable")
            // Not logged in: the dashboard sends the browser to the login page.
            try browser.navigate(base + "/")
            seen["redirected"] = browser.url
            // Log in through the form.
            _ = browser.evaluate("""
                document.querySelector('input[name=user]').value = 'olga';
                document.querySelector('input[name=password]').value = '\(password)';
                document.querySelector('#login').click(); true
                """)
            _ = browser.waitFor(timeout: .seconds(20)) { browser.html.contains("id=\"fleet\"") }
            seen["fleet"] = browser.html
            try browser.screenshot(to: output + "/fleet.png")
            // Open the device from the fleet table, and its chart.
            _ = browser.evaluate("document.querySelector('a[href=\"/devices/gw-test\"]').click(); true")
            _ = browser.waitFor(timeout: .seconds(20)) { browser.html.contains("id=\"chart-title\"") }
            seen["device"] = browser.html
            // Choose the range and the quantity in the chart's form, as a user does, and show it.
            _ = browser.evaluate("""
                const form = document.querySelector('#range');
                form.querySelector('input[name=from]').value = '\(chartFrom)';
                form.querySelector('input[name=to]').value = '\(chartTo)';
                form.querySelector('select[name=quantity]').value = 'voltage_l1';
                form.querySelector('select[name=resolution]').value = '900';
                form.submit(); true
                """)
            _ = browser.waitFor(timeout: .seconds(20)) { browser.url.contains("quantity=voltage_l1") && browser.html.contains("id=\"chart-title\"") }
            seen["chart"] = browser.html
            try browser.screenshot(to: output + "/device-chart.png")
            // Send a ping from the page; the page comes back with the verified reply in the audit table.
            _ = browser.evaluate("document.querySelector('#command select').value = 'ping'; document.querySelector('#send').click(); true")
            _ = browser.waitFor(timeout: .seconds(40)) { browser.html.contains("id=\"notice\"") }
            seen["afterPing"] = browser.html
            seen["afterPingURL"] = browser.url
            try browser.screenshot(to: output + "/device-after-ping.png")
            try browser.screenshot(to: dir.file("device-after-ping.png"))
            try browser.navigate(base + "/metrics")
            seen["metrics"] = browser.evaluate("document.body.innerText") as? String ?? ""
            seen["log"] = String(browser.log.suffix(3000))
            return seen
        }
        #expect(checks["redirected"]?.hasSuffix("/login") == true, "\(checks["redirected"] ?? "") \(checks["log"] ?? "")")
        let fleet = checks["fleet"] ?? ""
        #expect(fleet.contains("1 devices") && fleet.contains(">gw-test</a>"), "\(fleet.prefix(3000))")
        #expect(fleet.contains("olga"), "the page names the logged-in user")
        let device = checks["device"] ?? ""
        #expect(device.contains("<h1 id=\"device\">gw-test</h1>") && device.contains("<svg class=\"chart\""), "\(device.prefix(3000))")
        #expect(device.contains("id=\"command\""), "an operator gets the command form")
        let chart = checks["chart"] ?? ""
        #expect(chart.contains("voltage_l1, interval series, 15-minute") && chart.contains("data-meter=\"bus1-m2\""), "\(chart.prefix(4000))")
        #expect(chart.contains("data-points=\"1\"") || chart.contains("data-points=\"2\""), "yesterday's value in the chart")
        #expect(chart.contains("max 231.5"), "the axis names the value")
        let after = checks["afterPing"] ?? ""
        let audit = after.firstMatch(of: /<table id="audit">(.*?)<\/table>/.dotMatchesNewlines())?.1 ?? ""
        #expect(audit.contains("<td>olga</td><td>ping</td>") && audit.contains("<td>ok</td><td>ok</td>"), "\(after.suffix(4000))")
        #expect(audit.contains("pong"), "the agent's reply message is on the page: \(audit)")
        #expect(audit.contains("\"agent\""), "and its result: \(audit)")
        #expect(checks["afterPingURL"]?.contains("/devices/gw-test?sent=web-") == true)
        #expect(FileManager.default.fileExists(atPath: output + "/device-after-ping.png"))
        let png = (try? Data(contentsOf: URL(fileURLWithPath: output + "/device-after-ping.png"))) ?? Data()
        #expect(png.count > 1000 && png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "a PNG screenshot")
        let metrics = checks["metrics"] ?? ""
        #expect(metrics.contains("headend_messages_total{result=\"status\"}") && metrics.contains("headend_ack_latency_seconds_bucket"),
                "\(metrics.prefix(2000))")
        #expect(!metrics.contains("headend_messages_total{result=\"status\"} 0\n"), "status documents were counted: \(metrics.prefix(2000))")
    }
}
