import Foundation
import Testing
import ConcentratorCore
import TestSupport

/// The `meter-sim` executable as scripts use it: the first stdout line, `ctl`, signals, usage errors.
@Suite(.serialized) struct ExecutableTests {
    let binary = BuiltProducts.path("meter-sim")

    @Test func servesPrintsThePTYAndStopsCleanly() throws {
        let dir = TemporaryDirectory("meter-sim-exe")
        let link = dir.file("sim/bus1"), control = dir.file("control")
        let sim = try ChildProcess(binary, ["--link", link, "--control", control, "--baud", "19200", "--parity", "even",
                                            "--served-log", dir.file("served.jsonl")],
                                   directory: dir)
        #expect(sim.waitForOutput("\n"))
        let first = try #require(sim.stdout.split(separator: "\n").first.map(String.init))
        let words = first.split(separator: " ").map(String.init)
        #expect(words.count == 4 && words[0] == "pty" && words[1].hasPrefix("/dev/pts/") && words[2] == "link" && words[3] == link,
                "first line: \(first)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == words[1])

        let status = try runCommand(binary, ["ctl", "--control", control, "status"])
        #expect(status.status == 0)
        #expect(status.stdout.hasPrefix("ok line=up pty=\(words[1]) link=\(link) meters=0"))
        let bad = try runCommand(binary, ["ctl", "--control", control, "fault", "3", "silence"])
        #expect(bad.status == ExitStatus.failure)
        #expect(bad.stdout.hasPrefix("error no meter at address 3"))

        #expect(try runCommand(binary, ["ctl", "--control", control, "vanish", "0.3"]).status == 0)
        #expect(waitUntil(timeout: .seconds(5)) { sim.stdout.split(separator: "\n").count >= 2 })
        #expect(sim.stdout.split(separator: "\n").last?.hasPrefix("pty /dev/pts/") == true)

        #expect(sim.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: link))
        #expect(!FileManager.default.fileExists(atPath: control))
    }

    @Test func badArgumentsAreUsageErrors() throws {
        for args in [["--meters", "1-70:x"], ["--fault", "7=loud"], ["--turnaround", "9-3"], ["--parity", "mark"],
                     ["--clock-origin", "yesterday"]] {
            let result = try runCommand(binary, args)
            #expect(result.status == ExitStatus.usage, "\(args): \(result.stderr)")
            #expect(result.stderr.contains("invalid"), "\(args): \(result.stderr)")
        }
    }

    @Test func ctlWithoutASimulatorIsUnavailable() throws {
        let dir = TemporaryDirectory("meter-sim-exe")
        let result = try runCommand(binary, ["ctl", "--control", dir.file("none"), "status"])
        #expect(result.status == ExitStatus.unavailable)
        #expect(result.stderr.contains("is meter-sim running"))
    }
}
