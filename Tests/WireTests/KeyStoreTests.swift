import ConcentratorCore
import Foundation
import KeyFiles
import Platform
import Testing
import TestSupport
@testable import Wire

@Suite("Device keys and key files")
struct KeyStoreTests {
    @Test("first start creates 0600 key files in a 0700 directory; later starts load the same keys")
    func createAndReload() throws {
        let dir = TemporaryDirectory("uplink-keys")
        let store = DeviceKeyStore(stateDirectory: dir.path)
        let (keys, created) = try store.loadOrCreate()
        #expect(created == [store.signingKeyPath, store.agreementKeyPath])
        #expect(FileSystem.mode(store.directory) == 0o700)
        #expect(FileSystem.mode(store.signingKeyPath) == 0o600)
        #expect(FileSystem.mode(store.agreementKeyPath) == 0o600)
        let (again, createdAgain) = try store.loadOrCreate()
        #expect(createdAgain.isEmpty)
        #expect(again.signing.publicKey == keys.signing.publicKey)
        #expect(again.agreement.publicKey == keys.agreement.publicKey)
        #expect(try store.load().signing.id == keys.signing.id)
        // A lost agreement key is replaced without touching the signing key.
        FileSystem.remove(store.agreementKeyPath)
        let (third, createdThird) = try store.loadOrCreate()
        #expect(createdThird == [store.agreementKeyPath])
        #expect(third.signing.publicKey == keys.signing.publicKey && third.agreement.publicKey != keys.agreement.publicKey)
    }

    @Test("a key file readable by others, or damaged, is refused with the path")
    func refusals() throws {
        let dir = TemporaryDirectory("uplink-keys")
        let store = DeviceKeyStore(stateDirectory: dir.path)
        _ = try store.loadOrCreate()
        chmod(store.signingKeyPath, 0o644)
        #expect(throws: KeyFileError.insecurePermissions(path: store.signingKeyPath, mode: 0o644)) { try store.load() }
        chmod(store.signingKeyPath, 0o600)
        try FileSystem.writeAtomically("{\"format\":\"concentrator-private-key/1\",\"algorithm\":\"ed25519\",\"secret\":\"AAAA\"}",
                                       to: store.signingKeyPath, mode: 0o600)
        #expect(throws: KeyFileError.malformed(path: store.signingKeyPath, reason: "\"secret\" must be 32 bytes in base64")) {
            try store.load()
        }
    }

    @Test("no description, debug description, dump or error shows secret key bytes")
    func noSecretsInText() throws {
        let dir = TemporaryDirectory("uplink-keys")
        let store = DeviceKeyStore(stateDirectory: dir.path)
        let (keys, _) = try store.loadOrCreate()
        let secrets = [keys.signing.seed, keys.agreement.secretBytes]
        var texts = [String(describing: keys), String(reflecting: keys), keys.summary(deviceID: "gw-1"),
                     String(describing: keys.signing), String(reflecting: keys.signing), String(describing: keys.agreement),
                     String(reflecting: keys.agreement), "\(keys.signing)", "\(keys.agreement)"]
        var dumped = ""
        dump(keys, to: &dumped)
        dump(keys.signing, to: &dumped)
        dump(Fixtures.sealer, to: &dumped)
        dump(Fixtures.opener, to: &dumped)
        texts.append(dumped)
        texts += keys.publicDocuments(deviceID: "gw-1").map { $0.rendered() }
        for secret in secrets {
            let forms = [Hex.encode(secret), Hex.encode(secret).uppercased(), Data(secret).base64EncodedString(),
                         String(Data(secret).base64EncodedString().prefix(20))]
            for text in texts {
                for form in forms { #expect(!text.contains(form), "secret appears in: \(text.prefix(80))") }
            }
        }
        #expect(String(describing: keys.signing) == "Ed25519 private key \(keys.signing.id)")
        // The files do hold the secret (that is their job), and only they do.
        #expect(try FileSystem.readText(store.signingKeyPath).contains(Data(keys.signing.seed).base64EncodedString()))
    }

    @Test("key ids are the first 8 bytes of SHA-256 of the public key; fingerprints the whole digest")
    func ids() throws {
        // SHA-256 of the RFC 8032 TEST 1 public key, computed with `sha256sum` on its 32 raw bytes.
        let key = try SigningPublicKey(rawRepresentation: Hex.decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")!)
        #expect(key.fingerprint == "sha256:" + Hex.encode(Array(SHA256Reference.digest(key.rawRepresentation))))
        #expect(key.id.hex == String(key.fingerprint.dropFirst(7).prefix(16)))
        #expect(KeyID(hex: key.id.hex) == key.id)
    }

    @Test("public key documents round-trip; head-end key files load with roles and reject mistakes")
    func documents() throws {
        let dir = TemporaryDirectory("uplink-keys")
        let sealing = PublicKeyDocument(Fixtures.headEndSealing.publicKey, role: "sealing")
        let ack = PublicKeyDocument(Fixtures.headEndAck.publicKey, role: "ack")
        let admin = PublicKeyDocument(SigningPrivateKey.generate().publicKey, role: "admin")
        for (name, doc) in [("sealing.json", sealing), ("ack.json", ack), ("admin.json", admin)] {
            try FileSystem.writeAtomically(doc.rendered(), to: dir.file(name))
            #expect(try PublicKeyDocument.load(path: dir.file(name)) == doc)
        }
        let keys = try HeadEndKeys.load(paths: [dir.file("sealing.json"), dir.file("ack.json"), dir.file("admin.json")])
        #expect(keys.sealingKey == Fixtures.headEndSealing.publicKey)
        #expect(keys.keys(withRole: "ack") == [Fixtures.headEndAck.publicKey])
        #expect(keys.keys(withRole: "admin").count == 1)
        #expect(throws: KeyFileError.sealingKeyCount(0)) { try HeadEndKeys.load(paths: [dir.file("ack.json")]) }

        let wrongID = sealing.rendered().replacingOccurrences(of: sealing.id.hex, with: "0000000000000000")
        #expect(throws: KeyFileError.idMismatch(path: "x", declared: "0000000000000000", computed: sealing.id)) {
            try PublicKeyDocument.parse(wrongID, path: "x")
        }
        let wrongRole = ack.rendered().replacingOccurrences(of: "\"ack\"", with: "\"sealing\"")
        #expect(throws: KeyFileError.self) { try PublicKeyDocument.parse(wrongRole, path: "x") }
        #expect(throws: KeyFileError.self) { try PublicKeyDocument.parse("{}", path: "x") }
        #expect(throws: KeyFileError.self) { try HeadEndKeys.load(paths: [dir.file("missing.json")]) }
        let device = Fixtures.deviceSigning.publicKey
        let deviceDoc = PublicKeyDocument(device, role: "device", device: "gw-0001")
        #expect(try PublicKeyDocument.parse(deviceDoc.rendered(), path: "d").signingKey == device)
    }
}

/// SHA-256 from the system's `sha256sum`, an implementation independent of the code under test.
enum SHA256Reference {
    static func digest(_ bytes: [UInt8]) -> [UInt8] {
        let dir = TemporaryDirectory("sha")
        _ = FileManager.default.createFile(atPath: dir.file("in"), contents: Data(bytes))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [dir.file("in")]
        let pipe = Pipe()
        process.standardOutput = pipe
        try? process.run()
        process.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return Hex.decode(String(out.prefix(64))) ?? []
    }
}
