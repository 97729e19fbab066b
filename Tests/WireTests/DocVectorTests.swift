import ConcentratorCore
import Foundation
import Testing
import TestSupport
@testable import Wire

/// The test vectors in Docs/mqtt-api.md are checked here, so the page cannot drift from the code.
/// To regenerate them (HPKE is randomised, so enc and ciphertext change each time):
/// `UPLINK_PRINT_VECTORS=1 swift test --skip-build --filter DocVectorTests` and paste the output.
@Suite("Documented test vectors")
struct DocVectorTests {
    static let docPath = BuiltProducts.packageRoot + "/Docs/mqtt-api.md"

    /// Every `<!-- vector:NAME -->` followed by a fenced block, as bytes.
    static func documentedVectors() throws -> [String: [UInt8]] {
        let text = try String(contentsOfFile: docPath, encoding: .utf8)
        var vectors: [String: [UInt8]] = [:]
        let lines = text.components(separatedBy: "\n")
        var i = 0
        while i < lines.count {
            let line = lines[i].trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("<!-- vector:"), line.hasSuffix("-->") {
                let name = String(line.dropFirst("<!-- vector:".count).dropLast(3)).trimmingCharacters(in: .whitespaces)
                var hex = ""
                i += 2 // skip the opening fence
                while i < lines.count, !lines[i].hasPrefix("```") {
                    hex += lines[i]
                    i += 1
                }
                vectors[name] = Hex.decode(hex)
            }
            i += 1
        }
        return vectors
    }

    static func block(_ name: String, _ bytes: [UInt8]) -> String {
        var lines: [String] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            lines.append(Hex.encode(rest.prefix(32)))
            rest = rest.dropFirst(32)
        }
        return "<!-- vector:\(name) -->\n```\n" + lines.joined(separator: "\n") + "\n```\n"
    }

    /// The plain body inside a sealed vector message.
    static func body(of message: [UInt8], key: AgreementPrivateKey) throws -> [UInt8] {
        let sealed = try SealedBatch.parse(message)
        let info = batchSealingInfo(sealingKeyID: sealed.header.sealingKeyID, signingKeyID: sealed.header.signingKeyID)
        let payload = try BatchHPKE.open(sealed.ciphertext, enc: sealed.encapsulatedKey, with: key, info: info, aad: sealed.headerBytes)
        guard sealed.header.flags.contains(.compressed) else { return payload }
        return try Zstd.decompress(payload, expectedSize: Int(sealed.header.bodyLength), maximumSize: 1 << 20)
    }

    @Test("fresh vectors from the fixed keys open and verify (set UPLINK_PRINT_VECTORS=1 to print them)")
    func generate() throws {
        let interval = try Fixtures.sealer.seal(.snapshots(.interval, interval: Fixtures.hourly, Fixtures.vectorSnapshots), sequence: 42)
        let events = try Fixtures.sealer.seal(.events(Fixtures.vectorEvents), sequence: 43)
        let opened = try Fixtures.opener.open(interval.bytes)
        let ack = BatchAck.signed(for: opened, status: .accepted, by: Fixtures.headEndAck)
        #expect(try Fixtures.opener.open(events.bytes).content == .events(Fixtures.vectorEvents))
        #expect(events.header.flags.contains(.compressed), "the event vector is meant to show a compressed payload")
        guard ProcessInfo.processInfo.environment["UPLINK_PRINT_VECTORS"] != nil else { return }
        var out = ""
        out += Self.block("device-signing-seed", Fixtures.deviceSigning.seed)
        out += Self.block("device-signing-public", Fixtures.deviceSigning.publicKey.rawRepresentation)
        out += Self.block("headend-sealing-private", Fixtures.headEndSealing.secretBytes)
        out += Self.block("headend-sealing-public", Fixtures.headEndSealing.publicKey.rawRepresentation)
        out += Self.block("headend-ack-seed", Fixtures.headEndAck.seed)
        out += Self.block("headend-ack-public", Fixtures.headEndAck.publicKey.rawRepresentation)
        out += "key ids: device \(Fixtures.deviceSigning.id) sealing \(Fixtures.headEndSealing.id) ack \(Fixtures.headEndAck.id)\n"
        out += Self.block("interval-header", interval.headerBytes)
        out += Self.block("interval-body", try IntervalBodyCodec.encode(Fixtures.vectorSnapshots))
        out += Self.block("interval-enc", interval.encapsulatedKey)
        out += Self.block("interval-ciphertext", interval.ciphertext)
        out += Self.block("interval-signature", interval.signature)
        out += Self.block("interval-message", interval.bytes)
        out += Self.block("interval-digest", interval.digest)
        out += Self.block("event-body", try EventBodyCodec.encode(Fixtures.vectorEvents))
        out += Self.block("event-message", events.bytes)
        out += Self.block("interval-ack", ack)
        print(out)
    }

    @Test("the vectors in Docs/mqtt-api.md verify, open and decode with the documented keys")
    func documented() throws {
        let v = try Self.documentedVectors()
        func vector(_ name: String) throws -> [UInt8] { try #require(v[name], "Docs/mqtt-api.md lacks vector \(name)") }

        let device = try SigningPrivateKey(seed: try vector("device-signing-seed"))
        let sealing = try AgreementPrivateKey(rawRepresentation: try vector("headend-sealing-private"))
        let ackKey = try SigningPrivateKey(seed: try vector("headend-ack-seed"))
        #expect(device.publicKey.rawRepresentation == (try vector("device-signing-public")))
        #expect(sealing.publicKey.rawRepresentation == (try vector("headend-sealing-public")))
        #expect(ackKey.publicKey.rawRepresentation == (try vector("headend-ack-public")))

        let opener = BatchOpener(sealingKeys: [sealing], devices: RegisteredDevices([Fixtures.deviceID: [device.publicKey]]))
        let message = try vector("interval-message")
        let opened = try opener.open(message)
        guard case .snapshots(.interval, _, let snapshots) = opened.content else {
            Issue.record("interval vector does not hold interval snapshots")
            return
        }
        #expect(identical(snapshots, Fixtures.vectorSnapshots))
        #expect(opened.header.sequence == 42)
        #expect(try vector("interval-header") + vector("interval-enc") + vector("interval-ciphertext") + vector("interval-signature") == message)
        #expect(try Self.body(of: message, key: sealing) == vector("interval-body"))
        #expect(try IntervalBodyCodec.encode(Fixtures.vectorSnapshots) == vector("interval-body"))
        #expect(opened.digest == (try vector("interval-digest")))

        let events = try opener.open(try vector("event-message"))
        #expect(events.content == .events(Fixtures.vectorEvents))
        #expect(try Self.body(of: try vector("event-message"), key: sealing) == vector("event-body"))

        let ack = try vector("interval-ack")
        let verified = try BatchAck.verify(ack, deviceID: Fixtures.deviceID, trustedKeys: [ackKey.publicKey])
        #expect(verified.batchDigest == opened.digest && verified.status == .accepted && verified.sequence == 42)
        #expect(BatchAck.signed(for: opened, status: .accepted, by: ackKey) == ack) // Ed25519 is deterministic
    }

    @Test("the quantity code table in Docs/mqtt-api.md matches QuantityCatalog")
    func quantityTable() throws {
        let text = try String(contentsOfFile: Self.docPath, encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## 8. Quantity codes").last?.components(separatedBy: "\n## ").first)
        var documented: [(UInt16, String)] = []
        for line in section.components(separatedBy: "\n") where line.hasPrefix("| ") && line.contains("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            if let code = UInt16(cells[0]), cells[1].hasPrefix("`") { documented.append((code, cells[1].trimmingCharacters(in: ["`"]))) }
        }
        #expect(documented.map(\.0) == QuantityCatalog.all.map(\.code))
        #expect(documented.map(\.1) == QuantityCatalog.all.map(\.id.rawValue))
    }
}
