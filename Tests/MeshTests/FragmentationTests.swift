import ConcentratorCore
@testable import Mesh
import Testing

@Suite("Mesh fragmentation and reassembly")
struct FragmentationTests {
    let t0 = Timestamp(milliseconds: 10_000)

    func fragments(of frame: [UInt8], mtu: Int = 40, tag: UInt16 = 1) -> [MeshFragment] {
        MeshFragment.datagrams(for: frame, sender: MeshFixtures.relay, tag: tag, mtu: mtu)!.map { try! MeshFragment.decode($0) }
    }

    @Test("a frame that fits goes whole; a larger one in fragments no longer than the MTU")
    func splitting() {
        let frame = MeshFixtures.authenticator.seal(MeshFixtures.data)
        #expect(MeshFragment.datagrams(for: frame, sender: MeshFixtures.relay, tag: 1, mtu: frame.count) == [frame])
        let pieces = MeshFragment.datagrams(for: frame, sender: MeshFixtures.relay, tag: 1, mtu: 40)!
        #expect(pieces.count == (frame.count + 26) / 27)
        #expect(pieces.allSatisfy { $0.count <= 40 && $0[0] == MeshFragment.formatByte })
        #expect(MeshFragment.datagrams(for: frame, sender: MeshFixtures.relay, tag: 1, mtu: 13) == nil)
    }

    @Test("fragments reassemble in every order of arrival, duplicates ignored")
    func everyOrder() throws {
        let frame = MeshFixtures.authenticator.seal(MeshFixtures.data)
        let parts = fragments(of: frame, mtu: 50)
        #expect(parts.count == 3)
        let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0], [2, 2, 0, 0, 1]]
        for order in orders {
            var r = MeshReassembler()
            var out: [[UInt8]] = []
            for i in order { if let whole = try r.accept(parts[i], at: t0) { out.append(whole) } }
            #expect(out == [frame], "order \(order)")
            #expect(r.partialCount == 0 && r.heldBytes == 0)
        }
    }

    @Test("every truncation of every fragment is refused; the frame is completed only from whole ones")
    func truncatedFragments() throws {
        let frame = MeshFixtures.authenticator.seal(MeshFixtures.data)
        let raw = MeshFragment.datagrams(for: frame, sender: MeshFixtures.relay, tag: 1, mtu: 40)!
        for datagram in raw {
            for cut in 0...MeshFragment.headerLength {
                #expect(throws: MeshFrameError.self) { try MeshFragment.decode(Array(datagram[..<cut])) }
            }
        }
        // A fragment cut inside its chunk still decodes, but the frame it completes fails its MAC.
        var r = MeshReassembler()
        var whole: [UInt8]?
        for (i, datagram) in raw.enumerated() {
            let bytes = i == 1 ? Array(datagram.dropLast(3)) : datagram
            if let w = try r.accept(try MeshFragment.decode(bytes), at: t0) { whole = w }
        }
        let completed = try #require(whole)
        #expect(throws: MeshFrameError.self) { try MeshFixtures.authenticator.open(completed) }
    }

    @Test("a fragment that contradicts its frame drops that frame")
    func inconsistent() throws {
        var r = MeshReassembler()
        let a = MeshFragment(sender: MeshFixtures.relay, tag: 5, index: 0, count: 3, chunk: [1, 2, 3])
        let b = MeshFragment(sender: MeshFixtures.relay, tag: 5, index: 1, count: 4, chunk: [4, 5, 6])
        #expect(try r.accept(a, at: t0) == nil)
        #expect(throws: MeshFrameError.self) { try r.accept(b, at: t0) }
        #expect(r.partialCount == 0)
        #expect(throws: MeshFrameError.self) {
            try MeshFragment.decode(MeshFragment(sender: MeshFixtures.relay, tag: 1, index: 3, count: 3, chunk: [1]).encoded())
        }
        #expect(throws: MeshFrameError.self) {
            try MeshFragment.decode(MeshFragment(sender: MeshFixtures.relay, tag: 1, index: 0, count: 1, chunk: [1]).encoded())
        }
    }

    @Test("partials time out, and the buffers stay bounded by evicting the oldest")
    func bounds() throws {
        var r = MeshReassembler(maximumPartials: 2, timeoutMilliseconds: 5_000)
        for tag in 1...3 {
            _ = try r.accept(MeshFragment(sender: MeshFixtures.relay, tag: UInt16(tag), index: 0, count: 2, chunk: [UInt8(tag)]),
                             at: t0.adding(milliseconds: Int64(tag)))
        }
        #expect(r.partialCount == 2 && r.evicted == 1)
        // The first (evicted) frame cannot complete any more: its second half starts a new partial,
        // which evicts the now oldest (tag 2). The third completes.
        #expect(try r.accept(MeshFragment(sender: MeshFixtures.relay, tag: 1, index: 1, count: 2, chunk: [9]), at: t0.adding(milliseconds: 10)) == nil)
        #expect(r.partialCount == 2 && r.evicted == 2)
        #expect(try r.accept(MeshFragment(sender: MeshFixtures.relay, tag: 3, index: 1, count: 2, chunk: [9]), at: t0.adding(milliseconds: 11)) == [3, 9])
        #expect(r.partialCount == 1 && r.nextExpiry == t0.adding(milliseconds: 5_010))
        #expect(r.expire(at: t0.adding(milliseconds: 6_000)) == 1)
        #expect(r.partialCount == 0 && r.heldBytes == 0 && r.timedOut == 1)
        // Byte bound: a frame larger than the maximum frame length is refused.
        var big = MeshReassembler()
        let chunk = [UInt8](repeating: 0, count: 200)
        var refused = false
        for i in 0..<255 {
            do {
                _ = try big.accept(MeshFragment(sender: MeshFixtures.relay, tag: 9, index: UInt8(i), count: 255, chunk: chunk), at: t0)
            } catch {
                refused = true
                break
            }
        }
        #expect(refused && big.heldBytes <= MeshFrame.maximumFrameLength)
    }

    @Test("the data vector's documented fragments reassemble to the documented frame")
    func documentedFragments() throws {
        var r = MeshReassembler()
        var whole: [UInt8]?
        for datagram in MeshFixtures.dataFragments.reversed() {
            if let w = try r.accept(try MeshFragment.decode(datagram), at: t0) { whole = w }
        }
        #expect(try MeshFixtures.authenticator.open(try #require(whole)) == MeshFixtures.data)
    }
}
