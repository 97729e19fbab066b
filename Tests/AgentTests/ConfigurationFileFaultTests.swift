import ConcentratorCore
import Foundation
import Platform
import Testing
import TestSupport
@testable import Agent

/// Issue 17 #8, #10, #11: files the configuration names, ports under two spellings, invalid UTF-8.
@Suite struct ConfigurationFileFaultTests {
    private func config(board: String? = nil, devices: [String] = ["/tmp/concentrator-demo/bus1"], label: String = "kitchen") -> String {
        let boardMember = board.map { #", "board": "\#($0)""# } ?? ""
        let buses = devices.enumerated().map { #"{"name": "bus\#($0.offset + 1)", "device": "\#($0.element)"}"# }
        return """
        {"device": {"id": "gw-1"\(boardMember)},
         "buses": [\(buses.joined(separator: ", "))],
         "meters": [{"id": "m1", "bus": "bus1", "address": 1, "profile": "eastron-sdm120", "label": "\(label)"}]}
        """
    }

    /// Runs `body` on a thread; returns its result, or nil when it did not finish within `limit`
    /// (then `unblock` runs, so that a blocked thread does not outlive the test).
    private func within<T: Sendable>(_ limit: Duration, unblock: @escaping @Sendable () -> Void = {},
                                     _ body: @escaping @Sendable () -> T) -> T? {
        let done = ConditionLock()
        nonisolated(unsafe) var result: T?
        DedicatedThread.start(name: "test-body") {
            let value = body()
            done.withLock { result = value }
            done.broadcast()
        }
        let deadline = ContinuousClock.now + limit
        done.lock()
        while result == nil, ContinuousClock.now < deadline { done.wait(for: .milliseconds(50)) }
        let finished = result
        done.unlock()
        if finished == nil { unblock() }
        return finished
    }

    /// Before the fix, opening the FIFO blocked for ever (no writer).
    @Test func aBoardFileThatIsAFIFOIsRefusedAtOnce() throws {
        let dir = TemporaryDirectory("fifo-board")
        let fifo = dir.file("board.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let text = config(board: fifo)
        let outcome = within(.seconds(3), unblock: {
            // Let the blocked open and read finish: a writer that closes at once.
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }) { () -> String in
            do {
                _ = try AgentSetup.validate(text: text, source: "t")
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        let message = try #require(outcome, "validating a configuration whose board file is a FIFO did not return within 3 s")
        #expect(message.contains("not a regular file"), "\(message)")
        #expect(message.contains(fifo))
    }

    /// Before the fix, a file of any size was read whole (/dev/zero without end).
    @Test func anOversizedBoardFileIsRefusedWithoutReadingIt() throws {
        let dir = TemporaryDirectory("big-board")
        let path = dir.file("board.json")
        #expect(FileManager.default.createFile(atPath: path, contents: Data("{".utf8)))
        #expect(truncate(path, 64 << 20) == 0)  // sparse: costs no disk
        do {
            _ = try AgentSetup.validate(text: config(board: path), source: "t")
            Issue.record("a 64 MiB board file was accepted")
        } catch {
            #expect(error.description.contains("larger than"), "\(error)")
        }
        // The same checks guard every file read for the configuration (`/dev/zero`: the end-to-end test).
        let fifo = dir.file("x.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let refused = within(.seconds(3), unblock: {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }) { () -> String in
            do {
                _ = try FileSystem.readText(fifo)
                return "read"
            } catch {
                return "\(error)"
            }
        }
        #expect(refused?.contains("not a regular file") == true, "\(refused ?? "did not return")")
    }

    /// Before the fix, `/dev//x`, `/dev/../dev/x` and a udev link to `x` were three different ports.
    @Test func onePortUnderTwoSpellingsIsRefused() throws {
        let dir = TemporaryDirectory("ports")
        let port = dir.file("ttyRS485-1")
        #expect(FileManager.default.createFile(atPath: port, contents: nil))
        let link = dir.file("by-id-rs485")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: port)
        let spellings = [
            [port, dir.path + "//ttyRS485-1"],
            [port, dir.path + "/../" + (dir.path as NSString).lastPathComponent + "/ttyRS485-1"],
            [link, port],
        ]
        for pair in spellings {
            do {
                _ = try AgentSetup.validate(text: config(devices: pair), source: "t")
                Issue.record("\(pair) accepted as two ports")
            } catch {
                #expect(error.description.contains("$.buses[1].device") && error.description.contains("port already used by bus"),
                        "\(pair): \(error)")
            }
        }
        // Two different ports stay fine.
        let other = dir.file("ttyRS485-2")
        #expect(FileManager.default.createFile(atPath: other, contents: nil))
        #expect(throws: Never.self) { _ = try AgentSetup.validate(text: config(devices: [port, other]), source: "t") }
    }

    /// Before the fix, an invalid byte became U+FFFD and the configuration was accepted.
    @Test func invalidUTF8IsRefusedNamingTheLine() throws {
        let dir = TemporaryDirectory("utf8")
        let path = dir.file("config.json")
        var bytes = Array(config(label: "caf@").utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "@"))!
        bytes[at] = 0xE9  // Latin-1 "é": not UTF-8
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try AgentSetup.load(configPath: path)
            Issue.record("invalid UTF-8 was accepted")
        } catch {
            #expect(error.description.contains("UTF-8") && error.description.contains("line 3"), "\(error)")
        }
    }
}
