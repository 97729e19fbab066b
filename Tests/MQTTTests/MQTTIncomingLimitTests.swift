import CMosquitto
import Foundation
import Testing
import TestSupport
@testable import MQTT

/// Issue 17 #5: what a client accepts is bounded. The broker is told the maximum packet size in
/// CONNECT and never sends more; a message larger than it that arrives anyway is dropped before it
/// is copied; the queue of received messages is bounded.
@Suite(.timeLimit(.minutes(1)))
struct MQTTIncomingLimitTests {
    @Test func theBrokerNeverSendsMoreThanTheMaximumPacketSize() async throws {
        let broker = try await MosquittoBroker()
        var settings = testSettings(broker.port, clientID: "small-sub")
        settings.maximumPacketSize = 4096
        let subscriber = try await startClient(settings)
        let publisher = try await startClient(testSettings(broker.port, clientID: "big-pub"))
        try await subscriber.client.subscribe(filter: "limit/#")
        _ = try await publisher.client.publish(topic: "limit/big", payload: [UInt8](repeating: 1, count: 100_000))
        _ = try await publisher.client.publish(topic: "limit/small", payload: [2, 3])
        #expect(await subscriber.messages.wait { $0.contains { $0.topic == "limit/small" } })
        #expect(subscriber.payloads(on: "limit/big").isEmpty, "the broker sent a packet over the announced maximum")
        #expect(broker.log.contains("Dropping too large outgoing PUBLISH for small-sub"))
        await publisher.client.stop()
        await subscriber.client.stop()
    }

    /// A broker that ignores the property: the message is dropped without copying its payload (the
    /// buffer here is 64 MiB of untouched address space; copying it would make it resident).
    @Test func anOversizedMessageIsDroppedBeforeItIsCopied() async throws {
        var settings = testSettings(1883, clientID: "unit")
        settings.maximumPacketSize = 4096
        let client = MQTTClient(settings: settings, logger: testLogger("unit"))
        let recorder = StreamRecorder(client.messages)
        let size = 64 << 20
        let buffer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        defer { munmap(buffer, size) }
        let residentBefore = residentKiB()
        try "cmd".withCString { topic in
            var message = mosquitto_message()
            message.topic = UnsafeMutablePointer(mutating: topic)
            message.payload = buffer
            message.payloadlen = Int32(size)
            message.qos = 1
            client.connectionForTesting.handleMessage(message, properties: nil)
            var small = [UInt8](repeating: 9, count: 16)
            try small.withUnsafeMutableBytes { raw in
                message.payload = raw.baseAddress
                message.payloadlen = 16
                client.connectionForTesting.handleMessage(message, properties: nil)
            }
        }
        #expect(await recorder.wait { $0.count >= 1 })
        try await Task.sleep(for: .milliseconds(100))
        #expect(recorder.all.map(\.payload.count) == [16], "only the small message is delivered")
        #expect(residentKiB() - residentBefore < 16 * 1024, "the 64 MiB payload was copied")
    }

    @Test func theQueueOfReceivedMessagesIsBounded() async throws {
        var settings = testSettings(1883, clientID: "unit")
        settings.incomingQueueLimit = 4
        let client = MQTTClient(settings: settings, logger: testLogger("unit"))
        var payload: [UInt8] = [1]
        "q".withCString { topic in
            payload.withUnsafeMutableBytes { raw in
                var message = mosquitto_message()
                message.topic = UnsafeMutablePointer(mutating: topic)
                message.payload = raw.baseAddress
                message.payloadlen = 1
                for _ in 0..<20 { client.connectionForTesting.handleMessage(message, properties: nil) }
            }
        }
        let recorder = StreamRecorder(client.messages)
        #expect(await recorder.wait { $0.count >= 4 })
        try await Task.sleep(for: .milliseconds(200))
        #expect(recorder.all.count == 4, "\(recorder.all.count) messages were queued with a limit of 4")
    }

    private func residentKiB() -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
