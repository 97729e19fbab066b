import ConcentratorCore

/// Why a batch could not be sealed.
public enum BatchSealError: Error, Hashable, Sendable, CustomStringConvertible {
    case encoding(BatchEncodingError)
    case invalidDeviceID(String)
    /// The crypto library refused to seal (it reports no detail worth keeping).
    case sealingFailed

    public var description: String {
        switch self {
        case .encoding(let e): return "cannot encode batch: \(e)"
        case .invalidDeviceID(let id): return "device id \"\(id)\" is not 1…64 of [A-Za-z0-9._-]"
        case .sealingFailed: return "HPKE sealing failed"
        }
    }
}

/// The device side: encodes, compresses, seals to the head-end's X25519 key and signs with the
/// device's Ed25519 key. Pure apart from the randomness HPKE needs for its ephemeral key.
public struct BatchSealer: Sendable {
    public let deviceID: String
    public let signingKey: SigningPrivateKey
    public let headEndSealingKey: AgreementPublicKey
    /// zstd level; 19 costs a few milliseconds per hourly batch on a gateway.
    public var compressionLevel: Int32
    /// Whether interval bodies look for columns predicted by earlier ones (`IntervalBodyCodec`); off
    /// only where sealing time matters more than size (simulated fleets).
    public var searchReferences: Bool

    public init(deviceID: String, signingKey: SigningPrivateKey, headEndSealingKey: AgreementPublicKey,
                compressionLevel: Int32 = 19, searchReferences: Bool = true) throws(BatchSealError) {
        guard DeviceIdentifier.isValid(deviceID) else { throw .invalidDeviceID(deviceID) }
        self.deviceID = deviceID
        self.signingKey = signingKey
        self.headEndSealingKey = headEndSealingKey
        self.compressionLevel = compressionLevel
        self.searchReferences = searchReferences
    }

    /// The plain body for `content` (before compression and sealing).
    public static func encodeBody(_ content: BatchContent, searchReferences: Bool = true) throws(BatchEncodingError) -> [UInt8] {
        switch content {
        case .snapshots(_, _, let snapshots): return try IntervalBodyCodec.encode(snapshots, searchReferences: searchReferences)
        case .events(let events): return try EventBodyCodec.encode(events)
        }
    }

    /// Seals `content` as batch number `sequence`. The caller persists `sequence` before calling.
    public func seal(_ content: BatchContent, sequence: UInt64, backfill: Bool = false) throws(BatchSealError) -> SealedBatch {
        let body: [UInt8]
        do { body = try Self.encodeBody(content, searchReferences: searchReferences) } catch { throw .encoding(error) }
        let compressed = Zstd.compress(body, level: compressionLevel)
        var flags: BatchFlags = backfill ? [.backfill] : []
        let payload: [UInt8]
        if compressed.count < body.count {
            payload = compressed
            flags.insert(.compressed)
        } else {
            payload = body
        }
        let summary = content.summary
        let header = BatchHeader(kind: content.kind, flags: flags, deviceID: deviceID, sequence: sequence,
                                 rangeStart: summary.start, rangeEnd: summary.end, intervalSeconds: summary.intervalSeconds,
                                 meterCount: UInt32(summary.meters), valueCount: UInt32(summary.values),
                                 sealingKeyID: headEndSealingKey.id, signingKeyID: signingKey.id,
                                 bodyLength: UInt32(body.count), ciphertextLength: UInt32(payload.count + SealedBatch.tagLength))
        let headerBytes = header.encoded()
        let info = batchSealingInfo(sealingKeyID: headEndSealingKey.id, signingKeyID: signingKey.id)
        let enc: [UInt8], ciphertext: [UInt8]
        do {
            (enc, ciphertext) = try BatchHPKE.seal(payload, to: headEndSealingKey, info: info, aad: headerBytes)
        } catch {
            throw .sealingFailed
        }
        let signature = signingKey.sign(headerBytes + enc + ciphertext)
        return SealedBatch(header: header, headerBytes: headerBytes, encapsulatedKey: enc, ciphertext: ciphertext,
                           signature: signature)
    }
}
