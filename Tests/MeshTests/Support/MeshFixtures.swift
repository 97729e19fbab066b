import ConcentratorCore
@testable import Mesh

/// Fixed keys, nodes and frames behind the vectors in Docs/mesh.md.
enum MeshFixtures {
    /// The documented test key: bytes 0x00…0x1f (never a deployment's key).
    static let keyBytes: [UInt8] = Array(0..<32)
    static let key = try! MeshNetworkKey(bytes: keyBytes, epoch: 0)
    static let authenticator = MeshFrameAuthenticator(current: key)
    static let otherKey = try! MeshNetworkKey(bytes: Array(repeating: 0x5A, count: 32), epoch: 0)

    static let gateway = MeshNodeID(deviceID: "gw-0001")
    static let relay = MeshNodeID(deviceID: "gw-0002")
    /// 2026-01-01T00:00:00Z.
    static let time = Timestamp(milliseconds: 1_767_225_600_000)

    static var beacon: MeshFrame {
        let b = MeshBeacon(helloSequence: 7, uplinkHealth: 255,
                           route: MeshRouteAdvertisement(source: gateway, seqno: 42, metric: 0, hopCount: 0),
                           time: MeshTimeAdvertisement(time: time, stratum: 1, errorMilliseconds: 0),
                           reports: [MeshNeighbourReport(neighbour: relay, receptionQuality: 230)])
        return MeshFrame(header: MeshFrameHeader(type: .beacon, priority: .control, sender: gateway, receiver: .broadcast, counter: 1),
                         payload: b.encoded())
    }

    static var data: MeshFrame {
        let route = MeshRouteHeader(ttl: 24, hopCount: 0, origin: relay, destination: .headEnd, sequence: 42, attempt: 0)
        return MeshFrame(header: MeshFrameHeader(type: .data, priority: .newestInterval, sender: relay, receiver: gateway, counter: 2,
                                                 route: route),
                         payload: MeshRoutedPayload(deviceID: "gw-0002", body: Array(0..<16)).encoded())
    }

    static var hopAck: MeshFrame {
        let entry = MeshHopAckEntry(key: MeshMessageKey(type: .data, subject: relay, sequence: 42), attempt: 0, status: .accepted)
        return MeshFrame(header: MeshFrameHeader(type: .hopAck, priority: .control, sender: gateway, receiver: relay, counter: 3),
                         payload: MeshHopAck(entries: [entry]).encoded())
    }

    static var command: MeshFrame {
        let route = MeshRouteHeader(ttl: 24, hopCount: 0, origin: .headEnd, destination: relay, sequence: 9, attempt: 0)
        return MeshFrame(header: MeshFrameHeader(type: .command, priority: .control, sender: gateway, receiver: relay, counter: 4,
                                                 route: route),
                         payload: MeshRoutedPayload(deviceID: "gw-0002", body: Array(repeating: 0xC0, count: 8)).encoded())
    }

    static var sealed: [(String, [UInt8])] {
        [("beacon", authenticator.seal(beacon)), ("data", authenticator.seal(data)), ("hop-ack", authenticator.seal(hopAck)),
         ("command", authenticator.seal(command))]
    }

    /// The data vector in fragments for a 40-byte MTU, tag 1.
    static var dataFragments: [[UInt8]] {
        MeshFragment.datagrams(for: authenticator.seal(data), sender: relay, tag: 1, mtu: 40)!
    }

    static func instant(_ ms: Int64) -> MeshInstant {
        MeshInstant(monotonic: Timestamp(milliseconds: ms), wall: time.adding(milliseconds: ms))
    }
}
