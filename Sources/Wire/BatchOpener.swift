import ConcentratorCore

/// Where the head-end looks up a device's registered Ed25519 public keys.
public protocol DeviceKeyDirectory: Sendable {
    /// The device's registered signing keys, or nil when the device is not registered.
    func signingKeys(ofDevice deviceID: String) -> [SigningPublicKey]?
}

/// A fixed in-memory device registry (tests, tools, or a head-end that loads it at start).
public struct RegisteredDevices: DeviceKeyDirectory {
    public var keys: [String: [SigningPublicKey]]
    public init(_ keys: [String: [SigningPublicKey]] = [:]) { self.keys = keys }
    public func signingKeys(ofDevice deviceID: String) -> [SigningPublicKey]? { keys[deviceID] }
}

/// A batch that verified, opened and decoded.
public struct OpenedBatch: Hashable, Sendable {
    public let header: BatchHeader
    public let content: BatchContent
    /// SHA-256 of the whole message, to put in the ack.
    public let digest: [UInt8]
}

/// The head-end side: checks the signature against the registered device key, opens the seal,
/// decompresses within a strict bound and decodes. Each failure is a distinct `BatchOpenError`.
public struct BatchOpener: Sendable {
    let sealingKeys: [KeyID: AgreementPrivateKey]
    let devices: any DeviceKeyDirectory
    public let maximumBodyBytes: Int

    /// `sealingKeys`: the current and retired head-end X25519 keys (keep a retired key until no
    /// batch sealed to it can still be in an outbox).
    public init(sealingKeys: [AgreementPrivateKey], devices: any DeviceKeyDirectory, maximumBodyBytes: Int = 16 << 20) {
        var byID: [KeyID: AgreementPrivateKey] = [:]
        for k in sealingKeys { byID[k.id] = k }
        self.sealingKeys = byID
        self.devices = devices
        self.maximumBodyBytes = maximumBodyBytes
    }

    public func open(_ bytes: [UInt8]) throws(BatchOpenError) -> OpenedBatch {
        let sealed = try SealedBatch.parse(bytes)
        let header = sealed.header
        guard let deviceKeys = devices.signingKeys(ofDevice: header.deviceID) else { throw .unknownDevice(header.deviceID) }
        guard let deviceKey = deviceKeys.first(where: { $0.id == header.signingKeyID }) else {
            throw .unknownSigningKey(device: header.deviceID, keyID: header.signingKeyID)
        }
        guard sealed.hasValidSignature(by: deviceKey) else {
            throw .badSignature(device: header.deviceID, sequence: header.sequence)
        }
        guard let sealingKey = sealingKeys[header.sealingKeyID] else { throw .unknownSealingKey(header.sealingKeyID) }
        guard Int(header.bodyLength) <= maximumBodyBytes else {
            throw .bodyTooLarge(declared: header.bodyLength, maximum: maximumBodyBytes)
        }
        let payload: [UInt8]
        do {
            let info = batchSealingInfo(sealingKeyID: header.sealingKeyID, signingKeyID: header.signingKeyID)
            payload = try BatchHPKE.open(sealed.ciphertext, enc: sealed.encapsulatedKey, with: sealingKey, info: info,
                                         aad: sealed.headerBytes)
        } catch {
            throw .cannotDecrypt(device: header.deviceID, sequence: header.sequence)
        }
        let body: [UInt8]
        if header.flags.contains(.compressed) {
            do {
                body = try Zstd.decompress(payload, expectedSize: Int(header.bodyLength), maximumSize: maximumBodyBytes)
            } catch {
                throw .decompressionFailed(error)
            }
        } else {
            guard payload.count == Int(header.bodyLength) else {
                throw .headerMismatch("body is \(payload.count) bytes, header says \(header.bodyLength)")
            }
            body = payload
        }
        let content: BatchContent
        do {
            switch header.kind {
            case .interval, .profile:
                let schedule = IntervalSchedule(minutes: Int(header.intervalSeconds / 60))
                content = .snapshots(header.kind == .interval ? .interval : .profile, interval: schedule,
                                     try IntervalBodyCodec.decode(body))
            case .events:
                content = .events(try EventBodyCodec.decode(body))
            }
        } catch {
            throw .malformedBody(error)
        }
        try Self.check(header, against: content)
        return OpenedBatch(header: header, content: content, digest: sealed.digest)
    }

    private static func check(_ header: BatchHeader, against content: BatchContent) throws(BatchOpenError) {
        let s = content.summary
        if s.meters != Int(header.meterCount) { throw .headerMismatch("\(s.meters) meters in the body, header says \(header.meterCount)") }
        if s.values != Int(header.valueCount) { throw .headerMismatch("\(s.values) values in the body, header says \(header.valueCount)") }
        if s.start != header.rangeStart || s.end != header.rangeEnd {
            throw .headerMismatch("body covers \(s.start.milliseconds)…\(s.end.milliseconds) ms, header says "
                + "\(header.rangeStart.milliseconds)…\(header.rangeEnd.milliseconds) ms")
        }
    }
}
