import ConcentratorCore
import Foundation
import TestSupport
import Testing
@testable import Wire

/// The enrolment request (Docs/mqtt-api.md §12) and the head-end's signed refusal (§6, status 3):
/// byte-exact against the documented vectors, self-signed, and refused when altered.
@Suite struct EnrolmentTests {
    static let time = ISO8601.parse("2026-11-21T10:00:00Z")!

    /// The documented request: device gw-0001 with its signing key of §10.
    static var vectorRequest: EnrolmentRequest {
        EnrolmentRequest(deviceID: Fixtures.deviceID, installer: "Anna Rossi", note: "cabinet 4, Via Roma 1", time: time,
                         keys: [PublicKeyDocument(Fixtures.deviceSigning.publicKey, role: "device", device: Fixtures.deviceID)])
    }

    /// The documented refusal: of the interval batch of §10.1, reason 1 (device not registered).
    static func vectorRefusal(digest: [UInt8]) -> [UInt8] {
        BatchAck(deviceID: Fixtures.deviceID, sequence: 42, batchDigest: digest, status: .refused(reasonCode: 1),
                 keyID: Fixtures.headEndAck.id).encoded(signedBy: Fixtures.headEndAck)
    }

    @Test func theDocumentedVectorsAreWhatTheCodeWrites() throws {
        let vectors = try DocVectorTests.documentedVectors()
        let request = Self.vectorRequest.encoded(signedBy: Fixtures.deviceSigning)
        let refusal = Self.vectorRefusal(digest: try #require(vectors["interval-digest"]))
        if ProcessInfo.processInfo.environment["UPLINK_PRINT_VECTORS"] != nil {
            print(String(decoding: Self.vectorRequest.body, as: UTF8.self))
            print(DocVectorTests.block("enrolment-request", request) + DocVectorTests.block("refusal-ack", refusal))
        }
        #expect(vectors["enrolment-request"] == request, "Ed25519 is deterministic: the request is exact")
        #expect(vectors["refusal-ack"] == refusal)
    }

    @Test func aRequestVerifiesAsSelfSignedAndNamesItsFingerprint() throws {
        let bytes = Self.vectorRequest.encoded(signedBy: Fixtures.deviceSigning)
        let request = try EnrolmentRequest.verify(bytes, topicDevice: "gw-0001")
        #expect(request == Self.vectorRequest)
        #expect(request.fingerprint == Fixtures.deviceSigning.publicKey.fingerprint)
        #expect(request.fingerprint.hasPrefix("sha256:0a5b67549542c9a5"))
    }

    @Test func alteredForeignOrMisroutedRequestsAreRefused() throws {
        let bytes = Self.vectorRequest.encoded(signedBy: Fixtures.deviceSigning)
        // Every single-bit change of the body or signature is caught.
        for offset in stride(from: 17, to: bytes.count, by: 7) {
            var altered = bytes
            altered[offset] ^= 0x01
            #expect(throws: EnrolmentError.self) { try EnrolmentRequest.verify(altered, topicDevice: "gw-0001") }
        }
        // Signed by another key than the one it carries: whoever holds a key may only enrol that key.
        let foreign = Self.vectorRequest.encoded(signedBy: Fixtures.headEndAck)
        #expect(throws: EnrolmentError.signerNotInRequest(Fixtures.headEndAck.id)) {
            try EnrolmentRequest.verify(foreign, topicDevice: "gw-0001")
        }
        #expect(throws: EnrolmentError.wrongDevice("gw-0001")) { try EnrolmentRequest.verify(bytes, topicDevice: "gw-0002") }
        // Truncated at every length: a typed error, never a crash.
        for length in 0..<bytes.count {
            #expect(throws: EnrolmentError.self) { try EnrolmentRequest.verify(Array(bytes.prefix(length)), topicDevice: "gw-0001") }
        }
    }

    @Test func aRefusalIsSignedAndNeverAnAcceptance() throws {
        let digest = [UInt8](repeating: 7, count: 32)
        let bytes = Self.vectorRefusal(digest: digest)
        let ack = try BatchAck.verify(bytes, deviceID: "gw-0001", trustedKeys: [Fixtures.headEndAck.publicKey])
        #expect(ack.status == .refused(reasonCode: 1) && ack.status.refusal == .deviceNotRegistered)
        #expect(ack.status.reason == nil, "a refusal is not a rejection the device keeps out of the queue")
        #expect(BatchRefusalReason.deviceNotRegistered.explanation == "this device is not registered at the head-end")
        // Status 3 with reason 0 is malformed.
        var zero = Array(bytes.prefix(bytes.count - 64))
        zero[6] = 0
        zero[7] = 0
        #expect(throws: BatchAckError.self) {
            try BatchAck.verify(zero + Fixtures.headEndAck.sign(zero), deviceID: "gw-0001", trustedKeys: [Fixtures.headEndAck.publicKey])
        }
    }
}
