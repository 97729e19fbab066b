import ConcentratorCore
import Testing
@testable import Wire

@Suite("Sealing, signing and opening batches")
struct SealingTests {
    let content = BatchContent.snapshots(.interval, interval: Fixtures.hourly, Fixtures.awkwardSnapshots(meters: 10, intervals: 2))

    @Test("a sealed batch opens to the same content and header")
    func roundTrip() throws {
        let sealed = try Fixtures.sealer.seal(content, sequence: 77, backfill: true)
        let opened = try Fixtures.opener.open(sealed.bytes)
        guard case .snapshots(.interval, let schedule, let snapshots) = opened.content,
              case .snapshots(_, _, let original) = content else {
            Issue.record("wrong content kind")
            return
        }
        #expect(schedule == Fixtures.hourly)
        #expect(identical(snapshots, original))
        let h = opened.header
        #expect(h.deviceID == Fixtures.deviceID && h.sequence == 77 && h.kind == .interval)
        #expect(h.flags == [.compressed, .backfill])
        #expect(h.rangeStart == Fixtures.hour && h.rangeEnd == Fixtures.hour.adding(seconds: 7200))
        #expect(h.intervalSeconds == 3600 && h.meterCount == 10)
        #expect(h.valueCount == UInt32(original.reduce(0) { $0 + $1.values.count }))
        #expect(h.sealingKeyID == Fixtures.headEndSealing.id && h.signingKeyID == Fixtures.deviceSigning.id)
        #expect(opened.digest == sealed.digest && opened.digest.count == 32)
        #expect(try SealedBatch.parse(sealed.bytes) == sealed)
    }

    @Test("profile and event batches open as such")
    func otherKinds() throws {
        let profile = BatchContent.snapshots(.profile, interval: IntervalSchedule(minutes: 15), Fixtures.vectorSnapshots)
        #expect(try Fixtures.opener.open(try Fixtures.sealer.seal(profile, sequence: 1).bytes).content == profile)
        let events = BatchContent.events(Fixtures.vectorEvents)
        let sealed = try Fixtures.sealer.seal(events, sequence: 2)
        #expect(sealed.header.kind == .events && sealed.header.intervalSeconds == 0 && sealed.header.valueCount == 3)
        #expect(sealed.header.rangeStart == Fixtures.hour.adding(seconds: 125))
        #expect(sealed.header.rangeEnd == Fixtures.hour.adding(seconds: 130))
        #expect(try Fixtures.opener.open(sealed.bytes).content == events)
    }

    @Test("every truncation and every extension of a sealed batch is a typed malformed error")
    func truncation() throws {
        let bytes = try Fixtures.sealer.seal(.snapshots(.interval, interval: Fixtures.hourly, Fixtures.vectorSnapshots), sequence: 5).bytes
        for cut in 0..<bytes.count {
            #expect(throws: BatchOpenError.self) { try Fixtures.opener.open(Array(bytes[..<cut])) }
            do {
                _ = try SealedBatch.parse(Array(bytes[..<cut]))
                Issue.record("prefix of \(cut) bytes parsed")
            } catch {
                guard case .malformed = error else {
                    Issue.record("prefix of \(cut) bytes: \(error)")
                    continue
                }
            }
        }
        #expect(throws: BatchOpenError.self) { try Fixtures.opener.open(bytes + [0]) }
    }

    /// What opening reports when byte `offset` of the message is flipped.
    func errorAfterFlipping(_ offset: Int, in bytes: [UInt8]) -> BatchOpenError? {
        var tampered = bytes
        tampered[offset] ^= 0x01
        do {
            _ = try Fixtures.opener.open(tampered)
            return nil
        } catch {
            return error
        }
    }

    @Test("tampering with any region is caught, by the right check")
    func tampering() throws {
        let sealed = try Fixtures.sealer.seal(content, sequence: 9)
        let bytes = sealed.bytes
        let h = sealed.headerBytes.count
        let idEnd = 9 + Fixtures.deviceID.utf8.count
        func name(_ e: BatchOpenError) -> String {
            switch e {
            case .malformed: return "malformed"
            case .unsupportedVersion: return "version"
            case .unknownDevice: return "device"
            case .unknownSigningKey: return "signingKey"
            case .badSignature(_, let sequence): return sequence == 9 ? "signature" : "signature(sequence \(sequence))"
            default: return "\(e)"
            }
        }
        for offset in 0..<bytes.count {
            guard let error = errorAfterFlipping(offset, in: bytes) else {
                Issue.record("flipping byte \(offset) went unnoticed")
                continue
            }
            let expected: Set<String>
            switch offset - idEnd {
            case _ where offset < 4: expected = ["malformed"]
            case _ where offset == 4: expected = ["version"]
            case _ where offset < 9: expected = ["malformed", "signature", "device"] // kind, flags, id length
            case ..<0: expected = ["device", "malformed"] // device id characters
            case 0..<8: // sequence: the signature fails for the altered sequence number
                expected = ["signature(sequence \(UInt64(9) ^ (1 << UInt64(8 * (7 - (offset - idEnd))))))"]
            case 24..<28: expected = ["malformed", "signature"] // interval length must stay a whole number of minutes
            case 44..<52: expected = ["signingKey"]
            case 56..<60: expected = ["malformed"] // ciphertext length no longer matches the message
            default: expected = ["signature"] // other header fields, enc, ciphertext, the signature itself
            }
            #expect(expected.contains(name(error)), "byte \(offset) (header is \(h) bytes): \(error)")
        }
    }

    @Test("a tampered ciphertext re-signed with the device key fails to decrypt; the AEAD protects on its own")
    func aeadIndependent() throws {
        let sealed = try Fixtures.sealer.seal(content, sequence: 10)
        for region in ["header", "enc", "ciphertext"] {
            var header = sealed.headerBytes, enc = sealed.encapsulatedKey, ct = sealed.ciphertext
            switch region {
            case "header": header[header.count - 52] ^= 1 // range start: covered by the AAD
            case "enc": enc[3] ^= 1
            default: ct[ct.count / 2] ^= 1
            }
            let resigned = header + enc + ct + Fixtures.deviceSigning.sign(header + enc + ct)
            #expect(throws: BatchOpenError.cannotDecrypt(device: Fixtures.deviceID, sequence: 10), "\(region)") {
                try Fixtures.opener.open(resigned)
            }
        }
    }

    @Test("unknown device, unregistered key, foreign sealing key and size limit are distinct errors")
    func lookups() throws {
        let bytes = try Fixtures.sealer.seal(content, sequence: 11).bytes
        let nobody = BatchOpener(sealingKeys: [Fixtures.headEndSealing], devices: RegisteredDevices())
        #expect(throws: BatchOpenError.unknownDevice(Fixtures.deviceID)) { try nobody.open(bytes) }

        let otherKey = SigningPrivateKey.generate()
        let rotated = BatchOpener(sealingKeys: [Fixtures.headEndSealing],
                                  devices: RegisteredDevices([Fixtures.deviceID: [otherKey.publicKey]]))
        #expect(throws: BatchOpenError.unknownSigningKey(device: Fixtures.deviceID, keyID: Fixtures.deviceSigning.id)) {
            try rotated.open(bytes)
        }
        // A thief's key presented under the registered key's id.
        let thief = try BatchSealer(deviceID: Fixtures.deviceID, signingKey: otherKey, headEndSealingKey: Fixtures.headEndSealing.publicKey)
        let forged = try thief.seal(content, sequence: 12)
        var relabelled = forged.headerBytes
        let idEnd = 9 + Fixtures.deviceID.utf8.count
        relabelled.replaceSubrange((idEnd + 44)..<(idEnd + 52), with: Fixtures.deviceSigning.id.bytes)
        #expect(throws: BatchOpenError.badSignature(device: Fixtures.deviceID, sequence: 12)) {
            try Fixtures.opener.open(relabelled + forged.encapsulatedKey + forged.ciphertext + forged.signature)
        }

        let newHeadEnd = AgreementPrivateKey.generate()
        let wrongSeal = BatchOpener(sealingKeys: [newHeadEnd], devices: RegisteredDevices([Fixtures.deviceID: [Fixtures.deviceSigning.publicKey]]))
        #expect(throws: BatchOpenError.unknownSealingKey(Fixtures.headEndSealing.id)) { try wrongSeal.open(bytes) }
        let both = BatchOpener(sealingKeys: [newHeadEnd, Fixtures.headEndSealing],
                               devices: RegisteredDevices([Fixtures.deviceID: [otherKey.publicKey, Fixtures.deviceSigning.publicKey]]))
        #expect(throws: Never.self) { try both.open(bytes) }

        let small = BatchOpener(sealingKeys: [Fixtures.headEndSealing],
                                devices: RegisteredDevices([Fixtures.deviceID: [Fixtures.deviceSigning.publicKey]]), maximumBodyBytes: 100)
        #expect(throws: BatchOpenError.self) { try small.open(bytes) }
        do { _ = try small.open(bytes) } catch {
            guard case .bodyTooLarge(_, 100) = error else { Issue.record("\(error)"); return }
            #expect(error.rejectionReason == .bodyTooLarge)
        }
    }

    @Test("only errors after a verified signature lead to a rejection ack")
    func rejectionReasons() {
        let wire = WireFormatError("x", at: 0)
        #expect(BatchOpenError.malformed(wire).rejectionReason == nil)
        #expect(BatchOpenError.badSignature(device: "d", sequence: 1).rejectionReason == nil)
        #expect(BatchOpenError.unknownDevice("d").rejectionReason == nil)
        #expect(BatchOpenError.cannotDecrypt(device: "d", sequence: 1).rejectionReason == .cannotDecrypt)
        #expect(BatchOpenError.malformedBody(wire).rejectionReason == .malformedBody)
    }

    @Test("invalid device ids are refused before anything is sealed")
    func deviceIDs() {
        for bad in ["", "a/b", "a+b", "#", String(repeating: "x", count: 65), "gw 1"] {
            #expect(throws: BatchSealError.invalidDeviceID(bad)) {
                try BatchSealer(deviceID: bad, signingKey: Fixtures.deviceSigning, headEndSealingKey: Fixtures.headEndSealing.publicKey)
            }
            #expect(UplinkTopics(deviceID: bad) == nil)
        }
        #expect(UplinkTopics(deviceID: "gw-0001")?.ack == "concentrator/v1/gw-0001/ack")
        #expect(UplinkTopics.allDevices("batch") == "concentrator/v1/+/batch")
    }
}
