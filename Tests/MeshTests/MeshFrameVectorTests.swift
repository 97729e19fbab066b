import ConcentratorCore
import Crypto
import Foundation
@testable import Mesh
import TestSupport
import Testing

/// The frame vectors in Docs/mesh.md (our own: the mesh format is this project's) are generated from
/// the fixed key and frames in `MeshFixtures` and checked byte for byte and by SHA-256, so the page
/// cannot drift from the code. To print fresh blocks: `MESH_PRINT_VECTORS=1 swift test --skip-build
/// --filter MeshFrameVectorTests`.
@Suite("Mesh frame vectors")
struct MeshFrameVectorTests {
    static func digest(_ bytes: [UInt8]) -> String { Hex.encode(Array(SHA256.hash(data: bytes))) }

    @Test("the documented vectors are what the codec produces, with their digests")
    func documentedVectors() throws {
        var generated = MeshFixtures.sealed
        for (i, fragment) in MeshFixtures.dataFragments.enumerated() { generated.append(("data-fragment-\(i)", fragment)) }
        if ProcessInfo.processInfo.environment["MESH_PRINT_VECTORS"] != nil {
            for (name, bytes) in generated { print(DocumentedVectors.block(name, bytes, sha256: Self.digest(bytes))) }
        }
        let documented = try DocumentedVectors(page: "Docs/mesh.md")
        #expect(documented.vectors.count == generated.count)
        for (name, bytes) in generated {
            #expect(documented.vectors[name] == bytes, "vector \(name)")
            #expect(documented.digests[name] == Self.digest(bytes), "digest of \(name)")
        }
    }

    @Test("node addresses derive from device ids as documented")
    func nodeAddresses() {
        // Docs/mesh.md, "Node addresses": SHA-256("concentrator-mesh-node-v1" 00 "gw-0001"), first 8 bytes.
        let digest = Array(SHA256.hash(data: Array("concentrator-mesh-node-v1".utf8) + [0] + Array("gw-0001".utf8)))
        #expect(MeshFixtures.gateway.description == Hex.encode(digest.prefix(8)))
        #expect(MeshNodeID(deviceID: "gw-0001") != MeshNodeID(deviceID: "gw-0002"))
        #expect(MeshFixtures.gateway.isNodeAddress && !MeshNodeID.headEnd.isNodeAddress && !MeshNodeID.broadcast.isNodeAddress)
    }

    @Test("every frame type opens again to the same frame, and its payload decodes")
    func roundTrip() throws {
        for frame in [MeshFixtures.beacon, MeshFixtures.data, MeshFixtures.hopAck, MeshFixtures.command] {
            let opened = try MeshFixtures.authenticator.open(MeshFixtures.authenticator.seal(frame))
            #expect(opened == frame)
        }
        let beacon = try MeshBeacon.decode(MeshFixtures.beacon.payload)
        #expect(beacon.route?.seqno == 42 && beacon.time.time == MeshFixtures.time && beacon.reports.count == 1)
        let payload = try MeshRoutedPayload.decode(MeshFixtures.data.payload)
        #expect(payload.deviceID == "gw-0002" && payload.body == Array(0..<16))
        let ack = try MeshHopAck.decode(MeshFixtures.hopAck.payload)
        #expect(ack.entries.first?.key == MeshMessageKey(type: .data, subject: MeshFixtures.relay, sequence: 42))
    }

    @Test("the header layout is as documented: offsets of type, flags, addresses and counter")
    func layout() throws {
        let bytes = MeshFixtures.authenticator.seal(MeshFixtures.data)
        #expect(bytes[0] == 0x01 && bytes[1] == MeshFrameType.data.rawValue && bytes[2] == MeshPriority.newestInterval.rawValue)
        #expect(bytes[3] == 0) // key epoch
        var r = ByteReader(bytes, from: 4)
        #expect(try r.bigEndian(UInt64.self, "sender") == MeshFixtures.relay.rawValue)
        #expect(try r.bigEndian(UInt64.self, "receiver") == MeshFixtures.gateway.rawValue)
        #expect(try r.varint("counter") == 2)
        #expect(try r.u8("ttl") == 24 && r.u8("hops") == 0)
        #expect(try r.bigEndian(UInt64.self, "origin") == MeshFixtures.relay.rawValue)
        #expect(try r.bigEndian(UInt64.self, "destination") == 0)
        #expect(try r.varint("sequence") == 42 && r.u8("attempt") == 0)
        let length = try r.varint("length")
        #expect(Int(length) + r.offset + MeshFrame.macLength == bytes.count)
        // The MAC is HMAC-SHA-256 under the HKDF-derived key, truncated to 16 bytes.
        let macKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: MeshFixtures.keyBytes),
                                            salt: Array("concentrator-mesh".utf8), info: Array("frame-mac-v1".utf8), outputByteCount: 32)
        let mac = Array(HMAC<SHA256>.authenticationCode(for: Array(bytes.dropLast(16)), using: macKey)).prefix(16)
        #expect(Array(bytes.suffix(16)) == Array(mac))
    }

    @Test("a key is never shown, only its fingerprint")
    func keyDescription() {
        #expect(!MeshFixtures.key.description.contains(Hex.encode(MeshFixtures.keyBytes)))
        #expect(MeshFixtures.key.description.contains(MeshFixtures.key.fingerprint))
        #expect(throws: MeshKeyError.wrongLength(31)) { try MeshNetworkKey(bytes: Array(repeating: 1, count: 31)) }
        #expect(throws: MeshKeyError.allZero) { try MeshNetworkKey(bytes: Array(repeating: 0, count: 32)) }
    }
}
