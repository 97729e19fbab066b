import Foundation
import Logging
import Testing
import ConcentratorCore
import Platform
import TestSupport
import MQTT
import Wire
@testable import Agent

/// Issue 10 §2: one component lifecycle. Components start in order; a failed start unwinds what
/// already started, leaving no thread behind; stop runs in reverse; a component is swapped by identity.
@Suite(.serialized) struct AgentLifecycleTests {
    /// A component that runs a real thread until stopped, and counts live threads.
    final class ThreadComponent: AgentComponent, @unchecked Sendable {
        let componentName: String
        let live: Locked<Int>
        let order: Locked<[String]>
        private let stopFlag = Locked(false)
        private let exited = OneShot<Void>()

        init(_ name: String, live: Locked<Int>, order: Locked<[String]>) {
            componentName = name
            self.live = live
            self.order = order
        }

        func start() throws {
            live.withLock { $0 += 1 }
            DedicatedThread.start(name: componentName) { [self] in
                while !stopFlag.value { sleepThread(.milliseconds(5)) }
                live.withLock { $0 -= 1 }
                exited.set(())
            }
        }

        func stop(by deadline: ContinuousClock.Instant) {
            order.withLock { $0.append(componentName) }
            stopFlag.value = true
            _ = exited.wait(timeout: max(.zero, deadline - .now))
        }
    }

    @Test func aFailedStartAtEachStepStopsWhatStartedInReverseAndLeavesNoThread() {
        for failingStep in 0..<5 {
            let live = Locked(0), order = Locked<[String]>([])
            let life = ComponentLifecycle(failing: "c\(failingStep)")
            var failure: ComponentStartFailure?
            for i in 0..<5 {
                do throws(ComponentStartFailure) {
                    try life.start(ThreadComponent("c\(i)", live: live, order: order), unwindBudget: .seconds(2))
                } catch {
                    failure = error
                    break
                }
            }
            #expect(failure?.component == "c\(failingStep)")
            #expect(live.value == 0, "threads left behind after a failure at step \(failingStep)")
            #expect(order.value == (0..<failingStep).reversed().map { "c\($0)" })
            #expect(life.names.isEmpty)
        }
    }

    @Test func stopRunsInReverseAndReplaceSwapsByIdentityInPlace() throws {
        let live = Locked(0), order = Locked<[String]>([])
        let life = ComponentLifecycle()
        let parts = (0..<3).map { ThreadComponent("p\($0)", live: live, order: order) }
        for p in parts { try life.start(p, unwindBudget: .seconds(1)) }
        let fresh = ThreadComponent("p1", live: live, order: order)
        try life.replace(parts[1], with: fresh, within: .seconds(1))
        #expect(order.value == ["p1"])
        #expect(life.component(named: "p1") === fresh)
        #expect(life.names == ["p0", "p1", "p2"])
        #expect(live.value == 3)
        order.value = []
        life.stopAll(within: .seconds(2))
        #expect(order.value == ["p2", "p1", "p0"])
        #expect(live.value == 0)
    }

    @Test func theRealAgentUnwindsAFailedStartAtEveryStep() throws {
        let steps = ["archive", "events", "control socket", "uplink", "maintenance", "buses", "indicators", "commands", "control requests"]
        for step in steps {
            let dir = TemporaryDirectory("agent-lifecycle")
            let bus = "lc\(UInt32.random(in: 0...UInt32.max))"
            try writeAgentConfig(dir, bus: bus, brokerPort: freeLoopbackPort())
            var logger = Logger(label: "agent-lifecycle-test")
            logger.logLevel = .critical
            let agent = Agent(setup: try AgentSetup.load(configPath: dir.file("config.json")), options: AgentOptions(stopBudget: .seconds(5)),
                              logger: logger)
            agent.failingComponent = step
            // Every thread the start creates (and the threads those create) is counted under this tag.
            let tag = "lifecycle-\(step)-\(bus)"
            #expect(throws: AgentStartError.self) { try ThreadLedger.tagging(tag) { try agent.start() } }
            #expect(agent.lifecycle.names.isEmpty, "\(step): components left running")
            #expect(agent.uplink == nil && agent.commands == nil && agent.currentBuses.isEmpty, "\(step)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("run/control.sock")), "\(step): control socket left")
            // A thread ends shortly after its stop returns.
            let deadline = ContinuousClock.now + .seconds(3)
            while ThreadLedger.live(tag) > 0, ContinuousClock.now < deadline { sleepThread(.milliseconds(20)) }
            #expect(ThreadLedger.live(tag) == 0, "\(step): \(ThreadLedger.live(tag)) threads left behind")
            if step == steps.last {
                // The ledger sees the agent's threads: a full start counts them, a stop ends them all.
                let whole = Agent(setup: try AgentSetup.load(configPath: dir.file("config.json")), options: AgentOptions(stopBudget: .seconds(5)),
                                  logger: logger)
                try ThreadLedger.tagging(tag + "-whole") { try whole.start() }
                #expect(ThreadLedger.live(tag + "-whole") >= 5, "\(ThreadLedger.live(tag + "-whole")) threads counted")
                whole.stop()
                let end = ContinuousClock.now + .seconds(3)
                while ThreadLedger.live(tag + "-whole") > 0, ContinuousClock.now < end { sleepThread(.milliseconds(20)) }
                #expect(ThreadLedger.live(tag + "-whole") == 0, "a stopped agent left \(ThreadLedger.live(tag + "-whole")) threads")
            }
        }
    }
}

/// Issue 10 §2: after `keys.rotate` the buses' sink wakes the new uplink (before, it woke the
/// stopped one, and a new snapshot waited for the 5-second full check).
@Suite(.serialized) struct KeyRotationWakesTheNewUplinkTests {
    @Test(.timeLimit(.minutes(1))) func afterKeysRotateANewSnapshotIsSentWithinOneSecond() async throws {
        let broker = try await MosquittoBroker()
        let dir = TemporaryDirectory("agent-rotate")
        try writeAgentConfig(dir, bus: "bus1", brokerPort: broker.port)
        var logger = Logger(label: "agent-rotate-test")
        logger.logLevel = .critical
        let agent = Agent(setup: try AgentSetup.load(configPath: dir.file("config.json")), options: AgentOptions(stopBudget: .seconds(5)),
                          logger: logger)
        try await runOnDedicatedThread { try agent.start() }
        let first = try #require(agent.uplink)
        #expect(await waitUntil(.seconds(10)) { first.isConnected })

        let watcher = MQTTClient(settings: MQTTClientSettings(host: "127.0.0.1", port: broker.port, clientID: "rotate-watcher"), logger: logger)
        try watcher.start()
        for await event in watcher.connectionEvents { if case .connected = event { break } }
        _ = try await watcher.subscribe(filter: "concentrator/v1/gw-1/batch")

        // keys.rotate: the reply would go out first, then the new keys take over.
        let outcome = agent.rotateKeys()
        try await runOnDedicatedThread { outcome.afterReply?() }
        let second = try #require(agent.uplink)
        #expect(second !== first)
        #expect(await waitUntil(.seconds(10)) { second.isConnected })
        try await Task.sleep(for: .milliseconds(300))

        let sink = try #require(agent.lock.withLock { agent.parts.sink })
        let start = Timestamp(seconds: 1_795_257_000)
        let snapshot = MeterSnapshot(meter: "m-1", intervalStart: start, gatewayTime: start.adding(seconds: 2),
                                     values: [QuantityValue(quantity: "voltage_l1", value: 230)])
        let stored = ContinuousClock.now
        try await runOnDedicatedThread { try sink.store(bus: "bus1", series: .interval, intervalStart: start, snapshots: [snapshot]) }
        var arrived: Duration?
        let deadline = ContinuousClock.now + .seconds(6)
        for await message in watcher.messages where message.topic.hasSuffix("/batch") {
            arrived = ContinuousClock.now - stored
            break
        }
        #expect(ContinuousClock.now < deadline)
        #expect(arrived.map { $0 < .seconds(1) } == true, "the batch arrived after \(String(describing: arrived))")
        await watcher.stop()
        try await runOnDedicatedThread { agent.stop() }
    }

    private func waitUntil(_ timeout: Duration, _ condition: @escaping @Sendable () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

/// An agent configuration with one bus on a missing port and an uplink to 127.0.0.1:`brokerPort`,
/// with fresh head-end public keys, written to `<dir>/config.json`.
func writeAgentConfig(_ dir: TemporaryDirectory, bus: String, brokerPort: UInt16) throws {
    let sealing = dir.file("sealing.json"), ack = dir.file("ack.json")
    try PublicKeyDocument(AgreementPrivateKey.generate().publicKey, role: "sealing").rendered()
        .write(toFile: sealing, atomically: true, encoding: .utf8)
    try PublicKeyDocument(SigningPrivateKey.generate().publicKey, role: "ack").rendered()
        .write(toFile: ack, atomically: true, encoding: .utf8)
    try """
    {"device": {"id": "gw-1", "stateDirectory": "\(dir.file("state"))", "runtimeDirectory": "\(dir.file("run"))"},
     "buses": [{"name": "\(bus)", "device": "\(dir.file("bus.tty"))"}], "meters": [],
     "uplink": {"broker": {"host": "127.0.0.1", "port": \(brokerPort)}, "headEndKeys": ["\(sealing)", "\(ack)"]}}
    """.write(toFile: dir.file("config.json"), atomically: true, encoding: .utf8)
}
