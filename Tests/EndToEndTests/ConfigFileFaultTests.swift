import Foundation
import Testing
import ConcentratorCore
import Platform
import TestSupport

/// Issue 17 #8, #10, #11 with the real programs: files the configuration names that are FIFOs or
/// devices are refused at once (`config check` and a `config.set` command alike), the agent keeps
/// answering, and SIGTERM stops it promptly; one port under two spellings and invalid UTF-8 are
/// configuration errors (exit 78).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ConfigFileFaultTests {
    static func configText(board: String?, devices: [String] = ["/tmp/concentrator-demo/bus1"], label: String = "kitchen") -> String {
        let boardMember = board.map { #", "board": "\#($0)""# } ?? ""
        let buses = devices.enumerated().map { #"{"name": "bus\#($0.offset + 1)", "device": "\#($0.element)"}"# }
        return """
        {"device": {"id": "gw-1"\(boardMember)},
         "buses": [\(buses.joined(separator: ", "))],
         "meters": [{"id": "m1", "bus": "bus1", "address": 1, "profile": "eastron-sdm120", "label": "\(label)"}]}
        """
    }

    /// `concentrator config check FILE`, killed after `limit`: (exit status or nil, seconds taken, output).
    static func check(_ path: String, limit: Duration = .seconds(5)) async throws -> (status: Int32?, seconds: Double, output: String) {
        try await runOnDedicatedThread {
            let dir = TemporaryDirectory("check")
            let started = Date()
            let child = try ChildProcess(BuiltProducts.path("concentrator"), ["config", "check", path], name: "check", directory: dir)
            let status = child.waitForExit(timeout: limit)
            if status == nil { child.stop(signal: SIGKILL) }
            return (status, Date().timeIntervalSince(started), child.stdout + child.stderr)
        }
    }

    @Test func fifoAndDeviceFilesAreRefusedAtOnceByConfigCheck() async throws {
        let dir = TemporaryDirectory("e2e-config-files")
        let fifo = dir.file("board.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        for (name, board) in [("fifo", fifo), ("zero", "/dev/zero")] {
            let path = dir.file("\(name).json")
            try Self.configText(board: board).write(toFile: path, atomically: true, encoding: .utf8)
            let r = try await Self.check(path)
            #expect(r.status == ExitStatus.config, "\(name): status \(String(describing: r.status)) after \(r.seconds) s: \(r.output.prefix(500))")
            #expect(r.seconds < 3, "\(name): took \(r.seconds) s")
            #expect(r.output.contains("not a regular file"), "\(name): \(r.output.prefix(500))")
        }
        // The configuration file itself may be a FIFO too.
        let configFIFO = dir.file("config.fifo")
        #expect(mkfifo(configFIFO, 0o600) == 0)
        let r = try await Self.check(configFIFO)
        #expect(r.status == ExitStatus.config && r.seconds < 3 && r.output.contains("not a regular file"), "\(r)")
        FaultMatrix.record(fault: "config file is a FIFO or /dev/zero", runs: 1, expected: 0, delivered: 0)
    }

    @Test func duplicatePortSpellingsAreConfigurationErrors() async throws {
        let dir = TemporaryDirectory("e2e-config-check")
        let port = dir.file("ttyRS485-1")
        #expect(FileManager.default.createFile(atPath: port, contents: nil))
        try FileManager.default.createSymbolicLink(atPath: dir.file("by-id"), withDestinationPath: port)
        for (name, devices) in [("slashes", [port, dir.path + "//ttyRS485-1"]), ("link", [dir.file("by-id"), port])] {
            let path = dir.file("\(name).json")
            try Self.configText(board: nil, devices: devices).write(toFile: path, atomically: true, encoding: .utf8)
            let r = try await Self.check(path)
            #expect(r.status == ExitStatus.config && r.output.contains("port already used by bus"), "\(name): \(r.output.prefix(500))")
        }
    }

    @Test func invalidUTF8IsAConfigurationError() async throws {
        let dir = TemporaryDirectory("e2e-config-utf8")
        var bytes = Array(Self.configText(board: nil, label: "caf@").utf8)
        bytes[bytes.firstIndex(of: UInt8(ascii: "@"))!] = 0xE9
        let latin1 = dir.file("latin1.json")
        try Data(bytes).write(to: URL(fileURLWithPath: latin1))
        let r = try await Self.check(latin1)
        #expect(r.status == ExitStatus.config && r.output.contains("UTF-8") && r.output.contains("line 3"), "\(r.output.prefix(500))")
    }


    /// `config.set` naming a FIFO as `device.board`: before the fix the command thread blocked for
    /// ever (no reply, later commands unanswered, SIGTERM took 30 s).
    @Test func aConfigSetNamingAFIFOIsAnsweredAndTheAgentStaysResponsive() async throws {
        let f = try await CommandField()
        #expect(try await f.waitUntilCommandable(), "\(f.agent.log.suffix(2000))")
        let fifo = f.dir.file("board.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        defer {
            // Should the agent still block in open(), let it go so that the test can end.
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        let set = try await f.command("config.set", args: #"{"patch":{"device":{"board":"\#(fifo)"}}}"#, timeout: 10)
        #expect(set.code == "invalid-arguments", "\(set)")
        #expect(set.stdout.contains("not a regular file"), "\(set)")
        let zero = try await f.command("config.set", args: #"{"patch":{"device":{"board":"/dev/zero"}}}"#, timeout: 10)
        #expect(zero.code == "invalid-arguments", "\(zero)")
        #expect(try await f.command("ping", timeout: 10).code == "ok", "later commands are answered")
        let started = ContinuousClock.now
        let status = try await runOnDedicatedThread { f.agent.child.stop(timeout: .seconds(40)) }
        #expect(status == 0 && ContinuousClock.now - started < .seconds(10), "SIGTERM took \(ContinuousClock.now - started)")
    }
}
