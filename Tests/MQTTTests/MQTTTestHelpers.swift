import Foundation
import Logging
@testable import MQTT
import Platform
import Testing
import TestSupport

/// Records everything an AsyncStream yields, so tests can wait for a condition with a deadline
/// instead of awaiting the stream (which could hang).
final class StreamRecorder<Element: Sendable>: @unchecked Sendable {
    private let items = Locked<[Element]>([])
    private var task: Task<Void, Never>?

    init(_ stream: AsyncStream<Element>) {
        task = Task { [weak self] in
            for await item in stream {
                guard let self else { return }
                self.items.withLock { $0.append(item) }
            }
        }
    }

    deinit { task?.cancel() }

    var all: [Element] { items.value }

    /// Waits until `condition` holds for what was recorded, at most `timeout`. Returns whether it held.
    func wait(timeout: Duration = .seconds(10), _ condition: ([Element]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(all) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(all)
    }
}

extension MQTTConnectionEvent {
    var isConnected: Bool {
        if case .connected = self { return true }
        return false
    }

    var failure: MQTTConnectionProblem? {
        switch self {
        case .connected: return nil
        case .connectFailed(let problem), .disconnected(let problem): return problem
        }
    }

    var isConnectFailure: Bool {
        if case .connectFailed = self { return true }
        return false
    }
}

/// A client under test with its recorded events and messages.
struct TestClient {
    let client: MQTTClient
    let events: StreamRecorder<MQTTConnectionEvent>
    let messages: StreamRecorder<MQTTMessage>

    var connectedCount: Int { events.all.filter(\.isConnected).count }

    /// Waits for the `count`-th `.connected` event.
    func waitConnected(count: Int = 1, timeout: Duration = .seconds(10)) async -> Bool {
        await events.wait(timeout: timeout) { $0.filter(\.isConnected).count >= count }
    }

    func payloads(on topic: String) -> [[UInt8]] {
        messages.all.filter { $0.topic == topic }.map(\.payload)
    }
}

/// Settings for a loopback test broker with fast reconnects (0.2 s doubling to 1 s, ±20 %).
func testSettings(_ port: UInt16, clientID: String) -> MQTTClientSettings {
    MQTTClientSettings(host: "127.0.0.1", port: port, clientID: clientID, keepaliveSeconds: 10,
                       sessionExpirySeconds: 300,
                       reconnect: MQTTReconnectPolicy(initialDelay: .milliseconds(200), maxDelay: .seconds(1), jitterFraction: 0.2),
                       acknowledgementTimeout: .seconds(10))
}

func testLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .info
    return logger
}

/// Starts a client and records its streams. With `expectConnection` it waits for `.connected`.
func startClient(_ settings: MQTTClientSettings, expectConnection: Bool = true) async throws -> TestClient {
    let client = MQTTClient(settings: settings, logger: testLogger("mqtt.\(settings.clientID)"))
    let tested = TestClient(client: client, events: StreamRecorder(client.connectionEvents),
                            messages: StreamRecorder(client.messages))
    try client.start()
    if expectConnection {
        let connected = await tested.waitConnected()
        try #require(connected, "client \(settings.clientID) did not connect: \(tested.events.all)")
    }
    return tested
}

/// Waits (at most `timeout`) until `condition` holds.
func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// Seconds since `start`, for printed measurements.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let (s, atto) = (ContinuousClock.now - start).components
    return Double(s) + Double(atto) / 1e18
}
