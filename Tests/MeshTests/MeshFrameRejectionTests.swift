import ConcentratorCore
@testable import Mesh
import Testing

/// Bad frames: every truncation, every altered byte, replays, oversized and malformed input are
/// rejected with typed errors, counted by the node, and the node carries on.
@Suite("Mesh frame rejection")
struct MeshFrameRejectionTests {
    let auth = MeshFixtures.authenticator

    @Test("every truncation of every vector is rejected with a typed error, never a crash")
    func truncations() {
        for (name, bytes) in MeshFixtures.sealed {
            for cut in 0..<bytes.count {
                do {
                    _ = try auth.open(Array(bytes[..<cut]))
                    Issue.record("\(name) truncated to \(cut) bytes was accepted")
                } catch {
                    #expect(error.kind == .malformed, "\(name) cut at \(cut): \(error)")
                }
            }
            // Payload decoders too, at every length.
            let frame = try! auth.open(bytes)
            for cut in 0..<frame.payload.count {
                let prefix = Array(frame.payload[..<cut])
                switch frame.header.type {
                case .beacon: #expect(throws: ByteFormatError.self) { try MeshBeacon.decode(prefix) }
                case .hopAck: #expect(throws: ByteFormatError.self) { try MeshHopAck.decode(prefix) }
                default:
                    // A routed payload's body is "the rest": only cuts inside the device id fail.
                    if cut <= 8 { #expect(throws: ByteFormatError.self) { try MeshRoutedPayload.decode(prefix) } }
                }
            }
        }
    }

    @Test("a frame truncated or extended is malformed or a length mismatch, with the offset")
    func lengthErrors() {
        let bytes = auth.seal(MeshFixtures.data)
        #expect(throws: MeshFrameError.lengthMismatch(declared: bytes.count, actual: bytes.count + 1)) { try auth.open(bytes + [0]) }
        do {
            _ = try auth.open(Array(bytes.dropLast(20)))
            Issue.record("accepted a frame without its MAC")
        } catch {
            guard case .malformed(let inner) = error else { Issue.record("expected malformed, got \(error)"); return }
            #expect(inner.reason.contains("truncated"))
        }
    }

    @Test("flipping any bit of any byte is caught: forged, malformed or unsupported, never accepted")
    func alteredBytes() {
        for (name, bytes) in MeshFixtures.sealed {
            for offset in 0..<bytes.count {
                for bit in [0, 3, 7] {
                    var altered = bytes
                    altered[offset] ^= UInt8(1 << bit)
                    #expect(throws: MeshFrameError.self, "\(name) byte \(offset) bit \(bit)") { try auth.open(altered) }
                }
            }
            // The same frame under another deployment's key is forged.
            let frame = try! auth.open(bytes)
            #expect(throws: MeshFrameError.forged(sender: frame.header.sender)) {
                try auth.open(MeshFrameAuthenticator(current: MeshFixtures.otherKey).seal(frame))
            }
        }
    }

    @Test("unknown versions, types, flags and key epochs are refused by kind")
    func unsupported() throws {
        var bytes = auth.seal(MeshFixtures.beacon)
        bytes[0] = 0x03
        #expect(throws: MeshFrameError.unsupportedVersion(3)) { try auth.open(bytes) }
        bytes = auth.seal(MeshFixtures.beacon)
        bytes[1] = 99
        #expect(throws: MeshFrameError.unknownType(99)) { try auth.open(bytes) }
        bytes = auth.seal(MeshFixtures.beacon)
        bytes[2] = 0x41
        #expect(throws: MeshFrameError.reservedFlags(0x41)) { try auth.open(bytes) }
        var frame = MeshFixtures.beacon
        frame.header.keyEpoch = 3
        let otherEpoch = try MeshNetworkKey(bytes: MeshFixtures.keyBytes, epoch: 3)
        bytes = MeshFrameAuthenticator(current: otherEpoch).seal(frame)
        #expect(throws: MeshFrameError.unknownKeyEpoch(3)) { try auth.open(bytes) }
        // During a rollover both epochs verify.
        let rolling = MeshFrameAuthenticator(current: otherEpoch, accepted: [MeshFixtures.key])
        #expect(try rolling.open(bytes).header.keyEpoch == 3)
        #expect(try rolling.open(auth.seal(MeshFixtures.beacon)).header.keyEpoch == 0)
    }

    @Test("routed sections that break the direction rules are invalid fields")
    func directionRules() {
        var frame = MeshFixtures.data
        frame.header.route?.destination = MeshFixtures.gateway
        #expect(throws: MeshFrameError.self) { try auth.open(auth.seal(frame)) }
        frame = MeshFixtures.data
        frame.header.route?.ttl = 0
        #expect(throws: MeshFrameError.invalidField("TTL 0")) { try auth.open(auth.seal(frame)) }
        frame = MeshFixtures.beacon
        frame.header.sender = .broadcast
        #expect(throws: MeshFrameError.self) { try auth.open(auth.seal(frame)) }
    }

    @Test("oversized frames and payload lengths are refused before allocation")
    func oversized() {
        let huge = [UInt8](repeating: 0x01, count: MeshFrame.maximumFrameLength + 1)
        #expect(throws: MeshFrameError.oversized(length: huge.count, maximum: MeshFrame.maximumFrameLength)) { try auth.open(huge) }
        // A header declaring a payload beyond the limit.
        var w = ByteWriter()
        w.raw([0x01, MeshFrameType.beacon.rawValue, 0x01, 0x00])
        w.bigEndian(MeshFixtures.gateway.rawValue)
        w.bigEndian(MeshNodeID.broadcast.rawValue)
        w.varint(UInt64(1))
        w.varint(UInt64(MeshFrame.maximumPayloadLength + 1))
        do {
            _ = try auth.open(w.bytes + [UInt8](repeating: 0, count: 40))
            Issue.record("accepted an oversized declared payload")
        } catch {
            #expect(error.kind == .malformed)
        }
        // A frame too large for 255 fragments at the LoRa MTU cannot be sent that way.
        #expect(MeshFragment.datagrams(for: [UInt8](repeating: 0, count: 255 * 187 + 1), sender: MeshFixtures.relay, tag: 1, mtu: 200) == nil)
    }

    @Test("the replay window accepts each counter once, in any order within 64, and nothing older")
    func replayWindow() {
        var guardian = MeshReplayGuard(capacity: 4)
        let s = MeshFixtures.relay
        #expect(throws: Never.self) { try guardian.admit(sender: s, counter: 100) }
        #expect(throws: MeshFrameError.replayed(sender: s, counter: 100)) { try guardian.admit(sender: s, counter: 100) }
        #expect(throws: Never.self) { try guardian.admit(sender: s, counter: 90) }
        #expect(throws: MeshFrameError.replayed(sender: s, counter: 90)) { try guardian.admit(sender: s, counter: 90) }
        #expect(throws: Never.self) { try guardian.admit(sender: s, counter: 164) }
        #expect(throws: MeshFrameError.outsideReplayWindow(sender: s, counter: 100, newest: 164)) { try guardian.admit(sender: s, counter: 100) }
        #expect(throws: Never.self) { try guardian.admit(sender: s, counter: 101) }
        // Bounded: a fifth sender evicts the least recently heard.
        for n in 1...4 { try? guardian.admit(sender: MeshNodeID(UInt64(n)), counter: 1) }
        #expect(guardian.senderCount == 4)
        // Restored state treats everything at or below the persisted counter as seen.
        var restored = MeshReplayGuard()
        restored.restore([s: 500])
        #expect(throws: MeshFrameError.replayed(sender: s, counter: 499)) { try restored.admit(sender: s, counter: 499) }
        #expect(throws: Never.self) { try restored.admit(sender: s, counter: 501) }
    }

    @Test("the frame counter is persisted before use and never repeats across a restart")
    func counterReservation() throws {
        let store = InMemoryCounterStore()
        var counter = MeshFrameCounter(persisted: try store.loadReservation(), blockSize: 10)
        var used: [UInt64] = []
        for _ in 0..<25 {
            while true {
                switch counter.take() {
                case .ready(let c): used.append(c)
                case .reserve(let limit):
                    #expect(used.allSatisfy { $0 <= store.limit })
                    try store.persistReservation(limit)
                    counter.reserved(through: limit)
                    continue
                }
                break
            }
            #expect(used.last! <= store.limit, "used \(used.last!) before persisting beyond \(store.limit)")
        }
        #expect(used == Array(1...25))
        #expect(store.persistCount == 3)
        // After a restart the counter starts above everything reserved.
        var restarted = MeshFrameCounter(persisted: try store.loadReservation(), blockSize: 10)
        guard case .reserve(let limit) = restarted.take() else { Issue.record("used a counter without a reservation"); return }
        restarted.reserved(through: limit)
        guard case .ready(let first) = restarted.take() else { Issue.record("no counter after reserving"); return }
        #expect(first == 31)
    }

    @Test("a node counts forged, replayed, truncated, oversized and garbage datagrams and keeps working")
    func nodeCountsAndLives() throws {
        let link = MeshLinkProperties(name: "sim", kind: .simulated, mtu: 1200)
        let node = try MeshNode(configuration: MeshNodeConfiguration(deviceID: "gw-0001", links: [link]), authenticator: auth,
                                counterStore: InMemoryCounterStore(), relayQueue: InMemoryRelayQueueStore())
        let now = MeshFixtures.instant(1_000)
        func feed(_ bytes: [UInt8]) { _ = node.receive(MeshLinkDatagram(bytes: bytes, source: .simulated(1), receivedAt: now.monotonic), link: 0, at: now) }
        var data = MeshFixtures.data
        data.header.sender = MeshFixtures.relay
        let good = auth.seal(data)
        feed(good)
        #expect(node.relayQueue.count == 1)
        feed(good)                                                      // replayed
        feed(MeshFrameAuthenticator(current: MeshFixtures.otherKey).seal(MeshFixtures.beacon)) // forged
        feed(Array(good.prefix(30)))                                    // truncated
        feed([UInt8](repeating: 1, count: MeshFrame.maximumFrameLength + 5)) // oversized
        feed([0x7F, 1, 2, 3])                                           // garbage
        feed([])                                                        // empty
        feed([0x02, 1, 2])                                              // broken fragment
        let r = node.counters.rejections
        #expect(r[.replayed] == 1 && r[.forged] == 1 && r[.oversized] == 1 && r[.unsupported] == 1)
        #expect(r[.malformed] == 3)
        #expect(node.relayQueue.count == 1)
        // Still works: a fresh data frame is taken.
        var next = MeshFixtures.data
        next.header.counter = 10
        next.header.route?.sequence = 43
        feed(auth.seal(next))
        #expect(node.relayQueue.count == 2)
    }
}
