import Foundation
@testable import Mesh
import Testing

@Suite("Network key file")
struct MeshNetworkKeyFileTests {
    func path() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mesh-key-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent("mesh.key").path
    }

    @Test("written with mode 0600 and read back: the same key (same fingerprint), never shown in errors")
    func roundTrip() throws {
        let p = path()
        let fingerprint = try MeshNetworkKeyFile.write(MeshFixtures.keyBytes, to: p, epoch: 2)
        #expect(fingerprint == MeshFixtures.key.fingerprint)
        let attributes = try FileManager.default.attributesOfItem(atPath: p)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let key = try MeshNetworkKeyFile.load(path: p, epoch: 2)
        #expect(key.fingerprint == MeshFixtures.key.fingerprint && key.epoch == 2)
        // The loaded key MACs frames exactly like the fixture's key.
        #expect(MeshFrameAuthenticator(current: try MeshNetworkKeyFile.load(path: p, epoch: 0)).seal(MeshFixtures.data)
                == MeshFixtures.authenticator.seal(MeshFixtures.data))
    }

    @Test("a missing, world-readable, short or all-zero key file is refused with the path and what to do")
    func refusals() throws {
        let missing = path()
        #expect(throws: MeshKeyFileError.self) { try MeshNetworkKeyFile.load(path: missing, epoch: 0) }
        let open = path()
        try String(repeating: "ab", count: 32).write(toFile: open, atomically: true, encoding: .utf8)
        chmod(open, 0o644)
        do {
            _ = try MeshNetworkKeyFile.load(path: open, epoch: 0)
            Issue.record("a world-readable key file was accepted")
        } catch {
            #expect(error.description.contains("chmod 600") && !error.description.contains("abab"))
        }
        for text in ["abcd", String(repeating: "00", count: 32), String(repeating: "zz", count: 32)] {
            let p = path()
            try text.write(toFile: p, atomically: true, encoding: .utf8)
            chmod(p, 0o600)
            #expect(throws: MeshKeyFileError.self) { try MeshNetworkKeyFile.load(path: p, epoch: 0) }
        }
        #expect(throws: MeshKeyError.self) { try MeshNetworkKeyFile.parse("0011") }
        #expect(try MeshNetworkKeyFile.parse(MeshFixtures.keyBytes.map { String(format: "%02x ", $0) }.joined()) == MeshFixtures.keyBytes)
        #expect(MeshNetworkKeyFile.generate().count == 32 && MeshNetworkKeyFile.generate() != MeshNetworkKeyFile.generate())
    }
}
