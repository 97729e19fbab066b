import Testing
import TestSupport
import Wire

/// Issue 10 §4f: the §10.2 event vector carries its digest like §10.1; the real code computes it.
extension DocVectorTests {
    @Test("the event vector's documented digest is the SHA-256 the code computes and an ack carries")
    func eventDigest() throws {
        let v = try Self.documentedVectors()
        let message = try #require(v["event-message"])
        let digest = try #require(v["event-digest"], "Docs/mqtt-api.md lacks vector event-digest")
        #expect(try SealedBatch.parse(message).digest == digest)
        #expect(digest.count == 32)
    }
}
