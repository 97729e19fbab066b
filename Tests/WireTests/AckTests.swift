import ConcentratorCore
import Testing
@testable import Wire

@Suite("Batch acks")
struct AckTests {
    let digest = Array(0..<32).map { UInt8($0 * 7) }
    var ack: BatchAck {
        BatchAck(deviceID: Fixtures.deviceID, sequence: 123_456_789_012, batchDigest: digest, status: .accepted,
                 keyID: Fixtures.headEndAck.id)
    }

    @Test("each status signs and verifies")
    func roundTrip() throws {
        for status in [BatchAck.Status.accepted, .duplicate, .rejected(reasonCode: BatchRejectionReason.malformedBody.rawValue),
                       .rejected(reasonCode: 999)] {
            var a = ack
            a.status = status
            let bytes = a.encoded(signedBy: Fixtures.headEndAck)
            #expect(bytes.count == 4 + 1 + 1 + 2 + 1 + 7 + 8 + 32 + 8 + 64)
            let verified = try BatchAck.verify(bytes, deviceID: Fixtures.deviceID, trustedKeys: [Fixtures.headEndAck.publicKey])
            #expect(verified == a)
        }
        #expect(BatchAck.Status.rejected(reasonCode: 7).reason == .sequenceReused)
    }

    @Test("the ack for an opened batch names its digest")
    func forOpenedBatch() throws {
        let sealed = try Fixtures.sealer.seal(.events(Fixtures.vectorEvents), sequence: 3)
        let opened = try Fixtures.opener.open(sealed.bytes)
        let bytes = BatchAck.signed(for: opened, status: .accepted, by: Fixtures.headEndAck)
        let verified = try BatchAck.verify(bytes, deviceID: Fixtures.deviceID, trustedKeys: [Fixtures.headEndAck.publicKey])
        #expect(verified.batchDigest == sealed.digest && verified.sequence == 3)
    }

    @Test("wrong device, unknown key, altered bytes and truncation are refused")
    func refusals() throws {
        let bytes = ack.encoded(signedBy: Fixtures.headEndAck)
        let trusted = [Fixtures.headEndAck.publicKey]
        #expect(throws: BatchAckError.wrongDevice(Fixtures.deviceID)) { try BatchAck.verify(bytes, deviceID: "gw-0002", trustedKeys: trusted) }
        #expect(throws: BatchAckError.unknownKey(Fixtures.headEndAck.id)) {
            try BatchAck.verify(bytes, deviceID: Fixtures.deviceID, trustedKeys: [Fixtures.deviceSigning.publicKey])
        }
        for offset in 0..<bytes.count {
            var tampered = bytes
            tampered[offset] ^= 0x04
            #expect(throws: BatchAckError.self, "byte \(offset)") {
                try BatchAck.verify(tampered, deviceID: Fixtures.deviceID, trustedKeys: trusted)
            }
        }
        for cut in 0..<bytes.count {
            #expect(throws: BatchAckError.self) { try BatchAck.verify(Array(bytes[..<cut]), deviceID: Fixtures.deviceID, trustedKeys: trusted) }
        }
        // A device's own key cannot forge an ack even if it were trusted under the head-end's id.
        var forged = Array(bytes[..<(bytes.count - 64)])
        forged += Fixtures.deviceSigning.sign(forged)
        #expect(throws: BatchAckError.badSignature(sequence: 123_456_789_012)) {
            try BatchAck.verify(forged, deviceID: Fixtures.deviceID, trustedKeys: trusted)
        }
    }
}
