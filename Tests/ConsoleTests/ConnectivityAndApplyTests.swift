import ConcentratorCore
import Console
import Foundation
import Platform
import Testing
import TestSupport

@Suite struct ConnectivityCheckTests {
    @Test func theFirstFailureStopsTheTestAndSaysWhatToCheck() {
        var ran: [String] = []
        let steps = ["dns", "tcp", "tls", "mqtt"].map { name in
            ConnectivityStep(name: name) { _ in
                name == "tcp" ? .failed("connection refused", check: "that the broker listens on port 8883") : .passed("fine")
            }
        }
        let results = ConnectivityCheck.run(steps, cancellation: ActionCancellation()) { _, name, outcome in
            if outcome != nil { ran.append(name) }
        }
        #expect(ran == ["dns", "tcp"])
        #expect(results.map(\.outcome) == [.passed("fine"), .failed("connection refused", check: "that the broker listens on port 8883"), nil, nil])
        let lines = ConnectivityCheck.lines(index: 1, name: "tcp", outcome: results[1].outcome)
        #expect(lines == ["[FAIL] 2 tcp: connection refused", "       check: that the broker listens on port 8883"])
        #expect(ConnectivityCheck.lines(index: 2, name: "tls", outcome: nil) == ["[ -- ] 3 tls: not run"])
    }

    @Test func unavailableStepsAreNotPassesAndACancelledTestRunsNothingMore() {
        let cancellation = ActionCancellation()
        let steps = [ConnectivityStep(name: "a") { c in c.cancel(); return .unavailable("not in this build") },
                     ConnectivityStep(name: "b") { _ in .passed("never") }]
        let results = ConnectivityCheck.run(steps, cancellation: cancellation)
        #expect(results.map(\.outcome) == [.unavailable("not in this build"), nil])
    }

    @Test func resolutionAndTCPAgainstLoopback() throws {
        let addresses = try NetworkProbe.resolve(host: "127.0.0.1", port: 9).get()
        #expect(addresses.map(\.text) == ["127.0.0.1"])
        // A listening socket answers; a closed port refuses at once.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(listener, 1)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let open = try NetworkProbe.resolve(host: "127.0.0.1", port: port).get()[0]
        #expect((try? NetworkProbe.connect(open, timeout: .seconds(2), cancellation: ActionCancellation()).get()) != nil)
        let closed = try NetworkProbe.resolve(host: "127.0.0.1", port: Int(freeLoopbackPort())).get()[0]
        guard case .failure(let problem) = NetworkProbe.connect(closed, timeout: .seconds(2), cancellation: ActionCancellation()) else {
            Issue.record("a closed port answered"); return
        }
        #expect(problem.description.lowercased().contains("refused"))
        #expect((try? NetworkProbe.resolve(host: "no-such-host.invalid", port: 1883).get()) == nil)
    }
}

@Suite(.serialized) struct ConfigApplierTests {
    private func setUp() throws -> (TemporaryDirectory, String, String) {
        let dir = TemporaryDirectory("console-apply")
        let path = dir.file("config.json")
        let old = configWithOneBus(directory: dir.path).text
        try old.write(toFile: path, atomically: true, encoding: .utf8)
        return (dir, path, old)
    }

    private func newText(_ dir: TemporaryDirectory) -> String {
        var doc = configWithOneBus(directory: dir.path)
        doc.appendMeter(MeterEntry(id: "m1", bus: "bus1", address: .integer(1), profile: "abb-b23").json())
        return doc.text
    }

    @Test func withTheAgentStoppedItValidatesWritesAndKeepsABackup() throws {
        let (dir, path, old) = try setUp()
        let agent = FakeAgent(running: false)
        let keyFile = PendingFile(path: dir.file("state/keys/meters/m1.json"), text: "{}\n", mode: 0o600, what: "meter key file")
        let outcome = ConfigApplier(configPath: path, validate: testValidator, agent: agent).apply(text: newText(dir), files: [keyFile])
        guard case .applied = outcome else { Issue.record("\(outcome)"); return }
        #expect(readTextFile(path) == newText(dir))
        #expect(readTextFile(path + ".bak") == old)
        #expect(FileSystem.mode(keyFile.path) == 0o600)
        #expect(FileSystem.mode(dir.file("state/keys/meters")) == 0o700)
        #expect(agent.calls.isEmpty)
    }

    @Test func aRunningAgentReloads() throws {
        let (dir, path, _) = try setUp()
        let agent = FakeAgent(running: true, answers: ["reload": .success(ControlReply(message: "configuration applied: 1 buses, 1 meters"))])
        let outcome = ConfigApplier(configPath: path, validate: testValidator, agent: agent).apply(text: newText(dir), files: [])
        #expect(outcome == .applied("configuration applied: 1 buses, 1 meters"))
        #expect(agent.calls == ["reload"])
    }

    @Test func aRefusedReloadPutsEverythingBackAndReloadsAgain() throws {
        let (dir, path, old) = try setUp()
        let agent = FakeAgent(running: true, answers: ["reload": .failure(ControlFailure(code: "restart-required", message: "restart the agent"))])
        let keyFile = PendingFile(path: dir.file("headend-keys/sealing-1.json"), text: "{}\n", mode: 0o644, what: "head-end key")
        let outcome = ConfigApplier(configPath: path, validate: testValidator, agent: agent).apply(text: newText(dir), files: [keyFile])
        guard case .rolledBack(let reason, _) = outcome else { Issue.record("\(outcome)"); return }
        #expect(reason == "restart the agent")
        #expect(readTextFile(path) == old, "the previous configuration is back")
        #expect(!FileSystem.exists(keyFile.path), "a file the apply created is removed again")
        #expect(agent.calls == ["reload", "reload"])
    }

    @Test func anInvalidConfigurationWritesNothing() throws {
        let (dir, path, old) = try setUp()
        var doc = configWithOneBus(directory: dir.path)
        doc.appendMeter(MeterEntry(id: "m1", bus: "bus1", address: .integer(300), profile: "abb-b23").json())
        let agent = FakeAgent(running: true)
        guard case .invalid(let failure) = ConfigApplier(configPath: path, validate: testValidator, agent: agent).apply(text: doc.text, files: [])
        else { Issue.record("applied"); return }
        #expect(failure.issues.map(\.path) == ["$.meters[0].address"])
        #expect(readTextFile(path) == old)
        #expect(!FileSystem.exists(path + ".bak"))
        #expect(agent.calls.isEmpty)
    }
}
