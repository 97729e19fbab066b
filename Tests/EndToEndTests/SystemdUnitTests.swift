import Foundation
import Testing
import TestSupport

/// Systemd/concentrator.service passes `systemd-analyze verify` and stays at or below exposure 2.0
/// in `systemd-analyze security` (scripts/systemd-check.sh, against the built binary).
@Suite struct SystemdUnitTests {
    static let analyzeAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")
        || FileManager.default.isExecutableFile(atPath: "/bin/systemd-analyze")

    @Test(.enabled(if: analyzeAvailable, "systemd-analyze is missing (scripts/install-deps.sh installs systemd)"),
          .timeLimit(.minutes(1)))
    func unitVerifiesAndExposureIsAtMostTwo() throws {
        let run = try runCommand("/bin/bash", [BuiltProducts.packageRoot + "/scripts/systemd-check.sh", BuiltProducts.path("concentrator"), "2.0"],
                                 timeout: .seconds(50))
        print(run.stdout)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("verify concentrator.service: clean"))
        let line = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("security concentrator.service: exposure ") })
        let exposure = try #require(Double(line.split(separator: " ")[3]))
        #expect(exposure <= 2.0)
    }

    /// The script fails on a unit with a mistake (verify prints unknown keys but exits 0).
    @Test(.enabled(if: analyzeAvailable, "systemd-analyze is missing"), .timeLimit(.minutes(1)))
    func checkFailsOnAnUnknownKey() throws {
        let copy = TemporaryDirectory("systemd-check")
        try FileManager.default.createDirectory(atPath: copy.file("scripts"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: copy.file("Systemd"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: BuiltProducts.packageRoot + "/scripts/systemd-check.sh", toPath: copy.file("scripts/systemd-check.sh"))
        let unit = try String(contentsOfFile: BuiltProducts.packageRoot + "/Systemd/concentrator.service", encoding: .utf8)
        try unit.replacingOccurrences(of: "WatchdogSec=", with: "WatchdogSecs=")
            .write(toFile: copy.file("Systemd/concentrator.service"), atomically: true, encoding: .utf8)
        let run = try runCommand("/bin/bash", [copy.file("scripts/systemd-check.sh"), BuiltProducts.path("concentrator")], timeout: .seconds(50))
        #expect(run.status == 1, "\(run.stdout)")
        #expect(run.stdout.contains("WatchdogSecs"))
    }
}
