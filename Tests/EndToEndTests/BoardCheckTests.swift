import Foundation
import Testing
import TestSupport

/// `concentrator board check` and `board udev-rules` as an installer runs them.
@Suite struct BoardCheckTests {
    @Test(.timeLimit(.minutes(1)))
    func simulatorPortsPassAndMissingOnesFail() throws {
        let dir = TemporaryDirectory("board-e2e")
        let sim = try ChildProcess(BuiltProducts.path("meter-sim"), [
            "--link", dir.file("bus1"), "--baud", "9600", "--meters", "1-2:eastron-sdm120", "--profiles", BuiltProducts.profilesDirectory,
        ], name: "meter-sim", directory: dir)
        try #require(sim.waitForOutput("pty", timeout: .seconds(20)), "\(sim.stderr)")
        let board = """
        {"id": "sim-test", "name": "two simulated ports",
         "serialPorts": [{"name": "bus1", "device": "\(dir.file("bus1"))"}, {"name": "bus2", "device": "\(dir.file("bus2"))"}]}
        """
        try board.write(toFile: dir.file("board.json"), atomically: true, encoding: .utf8)
        let concentrator = BuiltProducts.path("concentrator")
        let partial = try runCommand(concentrator, ["board", "check", dir.file("board.json")], timeout: .seconds(30))
        #expect(partial.status == 1)
        #expect(partial.stdout.contains("ok    port bus1: \(dir.file("bus1")) → /dev/pts/"))
        #expect(partial.stdout.contains("pseudo-terminal (simulator)"))
        #expect(partial.stdout.contains("FAIL  port bus2"))
        #expect(partial.stdout.contains("1 failed, 0 warnings, 2 ok"))

        let config = """
        {"device": {"id": "gw"}, "buses": [{"name": "a", "device": "\(dir.file("bus1"))", "rs485": {"enabled": true}}], "meters": []}
        """
        try config.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
        try board.replacingOccurrences(of: #", {"name": "bus2", "device": "\#(dir.file("bus2"))"}"#, with: "")
            .write(toFile: dir.file("board.json"), atomically: true, encoding: .utf8)
        let full = try runCommand(concentrator, ["board", "check", dir.file("board.json"), "--config", dir.file("config.json")], timeout: .seconds(30))
        #expect(full.status == 0, "\(full.stdout)\(full.stderr)")
        #expect(full.stdout.contains("warn  bus a: rs485 settings (on, RTS high while sending, delays 0/0 ms) differ from port bus1's (off)"))
    }

    @Test func invalidBoardFileExits78WithEveryProblem() throws {
        let dir = TemporaryDirectory("board-e2e")
        try #"{"id": "X", "serialPorts": [{"name": "p", "device": "relative"}]}"#.write(toFile: dir.file("bad.json"), atomically: true, encoding: .utf8)
        let run = try runCommand(BuiltProducts.path("concentrator"), ["board", "check", dir.file("bad.json")], timeout: .seconds(30))
        #expect(run.status == 78)
        for path in ["$.id", "$.name", "$.serialPorts[0].device"] { #expect(run.stderr.contains(path), "\(run.stderr)") }
    }

    @Test(arguments: ["rpi4-rs485-hat", "x86-usb-rs485", "beaglebone-rs485"])
    func udevRulesCommandPrintsTheShippedRules(board: String) throws {
        let run = try runCommand(BuiltProducts.path("concentrator"), ["board", "udev-rules", BuiltProducts.packageRoot + "/Board/\(board).json"],
                                 timeout: .seconds(30))
        #expect(run.status == 0)
        let shipped = try String(contentsOfFile: BuiltProducts.packageRoot + "/Board/udev/60-concentrator-\(board).rules", encoding: .utf8)
        #expect(run.stdout == shipped)
    }
}
