import ConcentratorCore
import Testing
@testable import Wire

/// The crypto suite, pinned with the standards' own vectors, so that an independent head-end using
/// any RFC 8032 / RFC 9180 library interoperates.
@Suite("Standard vectors")
struct StandardVectorTests {
    @Test("Ed25519: RFC 8032 §7.1 TEST 1 (empty message)")
    func ed25519() throws {
        let seed = Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!
        let key = try SigningPrivateKey(seed: seed)
        #expect(Hex.encode(key.publicKey.rawRepresentation) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = Hex.decode("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")!
        #expect(key.publicKey.isValidSignature(signature, for: []))
        #expect(key.sign([]) == signature) // RFC 8032 signatures are deterministic
    }

    @Test("HPKE: RFC 9180 Appendix A.2.1, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, base mode")
    func hpke() throws {
        let skR = try AgreementPrivateKey(rawRepresentation: Hex.decode("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb")!)
        #expect(Hex.encode(skR.publicKey.rawRepresentation) == "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a")
        let enc = Hex.decode("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a")!
        let info = Hex.decode("4f6465206f6e2061204772656369616e2055726e")!
        let ct = Hex.decode("1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28")!
        let pt = try BatchHPKE.open(ct, enc: enc, with: skR, info: info, aad: Hex.decode("436f756e742d30")!)
        #expect(Hex.encode(pt) == "4265617574792069732074727574682c20747275746820626561757479")
    }
}
