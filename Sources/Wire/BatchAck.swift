import ConcentratorCore

import Crypto

/// Why the head-end rejected a batch whose signature verified. Raw values are on the wire.
public enum BatchRejectionReason: UInt16, Hashable, Sendable, CaseIterable {
    /// Sealed to a head-end key the head-end no longer (or never) held.
    case unknownSealingKey = 1
    /// The seal did not open.
    case cannotDecrypt = 2
    /// The body exceeds the head-end's limit.
    case bodyTooLarge = 3
    /// The payload is not a valid zstd frame of the declared size.
    case decompressionFailed = 4
    /// The body does not decode (for example a quantity code the head-end does not know).
    case malformedBody = 5
    /// The body contradicts the header.
    case headerMismatch = 6
    /// The head-end already holds a different batch under this (device, sequence).
    case sequenceReused = 7
}

/// Why the head-end refused a batch without looking into it (status 3): the device is not
/// registered there yet. Raw values are on the wire. A refusal never makes a device drop anything.
public enum BatchRefusalReason: UInt16, Hashable, Sendable, CaseIterable {
    /// No registered device has this id (it may be waiting for approval: `headend devices pending`).
    case deviceNotRegistered = 1
    /// The device is registered, but not with the key that signed the batch.
    case signingKeyNotRegistered = 2

    /// For people, as the console shows it.
    public var explanation: String {
        switch self {
        case .deviceNotRegistered: return "this device is not registered at the head-end"
        case .signingKeyNotRegistered: return "this device's signing key is not registered at the head-end"
        }
    }
}

/// The head-end's signed answer to one batch. Byte layout: Docs/mqtt-api.md, "Ack".
public struct BatchAck: Hashable, Sendable {
    /// What the head-end did with the batch.
    public enum Status: Hashable, Sendable {
        /// Stored. The device may delete the batch from its outbox.
        case accepted
        /// Already stored earlier (same device, sequence and digest). The device may delete it too.
        case duplicate
        /// Not stored. The raw reason code is kept even when this build does not know it.
        case rejected(reasonCode: UInt16)
        /// Not stored, not looked into: the sender is not registered (`BatchRefusalReason`). The
        /// device keeps the batch and sends it again later; it is accepted once it is registered.
        case refused(reasonCode: UInt16)

        public var reason: BatchRejectionReason? {
            if case .rejected(let code) = self { return BatchRejectionReason(rawValue: code) }
            return nil
        }

        public var refusal: BatchRefusalReason? {
            if case .refused(let code) = self { return BatchRefusalReason(rawValue: code) }
            return nil
        }
    }

    /// "CCUA": concentrator uplink ack.
    public static let magic: [UInt8] = [0x43, 0x43, 0x55, 0x41]
    public static let formatVersion: UInt8 = 1

    public var deviceID: String
    public var sequence: UInt64
    /// SHA-256 of the complete batch message this ack answers.
    public var batchDigest: [UInt8]
    public var status: Status
    /// Id of the head-end Ed25519 key that signed the ack.
    public var keyID: KeyID

    public init(deviceID: String, sequence: UInt64, batchDigest: [UInt8], status: Status, keyID: KeyID) {
        self.deviceID = deviceID
        self.sequence = sequence
        self.batchDigest = batchDigest
        self.status = status
        self.keyID = keyID
    }

    /// The ack for `batch`, signed by the head-end key `key` (role `ack`).
    public static func signed(for batch: OpenedBatch, status: Status, by key: SigningPrivateKey) -> [UInt8] {
        BatchAck(deviceID: batch.header.deviceID, sequence: batch.header.sequence, batchDigest: batch.digest,
                 status: status, keyID: key.id).encoded(signedBy: key)
    }

    /// The wire form: the fields, then an Ed25519 signature by `key` over them. Sets the key id from `key`.
    public func encoded(signedBy key: SigningPrivateKey) -> [UInt8] {
        precondition(batchDigest.count == 32, "a batch digest is 32 bytes of SHA-256")
        var w = ByteWriter(capacity: 160)
        w.raw(Self.magic)
        w.u8(Self.formatVersion)
        switch status {
        case .accepted:
            w.u8(0)
            w.bigEndian(UInt16(0))
        case .duplicate:
            w.u8(1)
            w.bigEndian(UInt16(0))
        case .rejected(let code):
            w.u8(2)
            w.bigEndian(code)
        case .refused(let code):
            w.u8(3)
            w.bigEndian(code)
        }
        let id = Array(deviceID.utf8)
        w.u8(UInt8(truncatingIfNeeded: id.count))
        w.raw(id)
        w.bigEndian(sequence)
        w.raw(batchDigest)
        w.raw(key.id.bytes)
        return w.bytes + key.sign(w.bytes)
    }

    /// Parses and verifies an ack received by device `deviceID`, trusting only `trustedKeys`
    /// (the head-end keys with role `ack`).
    public static func verify(_ bytes: [UInt8], deviceID: String, trustedKeys: [SigningPublicKey]) throws(BatchAckError) -> BatchAck {
        var r = ByteReader(bytes)
        let ack: BatchAck
        do {
            guard try r.raw(4, "magic") == magic else { throw WireFormatError("magic is not \"CCUA\"", at: 0) }
            let version = try r.u8("format version")
            guard version == formatVersion else { throw BatchAckError.unsupportedVersion(version) }
            let statusByte = try r.u8("status")
            let reason = try r.bigEndian(UInt16.self, "reason")
            let status: Status
            switch (statusByte, reason) {
            case (0, 0): status = .accepted
            case (1, 0): status = .duplicate
            case (2, _) where reason != 0: status = .rejected(reasonCode: reason)
            case (3, _) where reason != 0: status = .refused(reasonCode: reason)
            default: throw WireFormatError("status \(statusByte) with reason \(reason) is invalid", at: 5)
            }
            let idLength = Int(try r.u8("device id length"))
            guard let id = DeviceIdentifier.validated(try r.raw(idLength, "device id")) else {
                throw WireFormatError("device id is not 1…64 of [A-Za-z0-9._-]", at: 9)
            }
            let sequence = try r.bigEndian(UInt64.self, "sequence")
            let digest = try r.raw(32, "batch digest")
            let keyID = try KeyID(bytes: r.raw(8, "key id"))
            ack = BatchAck(deviceID: id, sequence: sequence, batchDigest: digest, status: status, keyID: keyID)
        } catch let e as WireFormatError {
            throw .malformed(e)
        } catch let e as BatchAckError {
            throw e
        } catch {
            throw .malformed(WireFormatError("\(error)", at: r.offset))
        }
        let signedLength = r.offset
        guard bytes.count == signedLength + 64 else {
            throw .malformed(WireFormatError("ack is \(bytes.count) bytes; expected \(signedLength + 64)", at: min(bytes.count, signedLength)))
        }
        guard ack.deviceID == deviceID else { throw .wrongDevice(ack.deviceID) }
        guard let key = trustedKeys.first(where: { $0.id == ack.keyID }) else { throw .unknownKey(ack.keyID) }
        guard key.isValidSignature(Array(bytes[signedLength...]), for: Array(bytes[..<signedLength])) else {
            throw .badSignature(sequence: ack.sequence)
        }
        return ack
    }
}

/// Why a device refused an ack. The batch then stays in the outbox.
public enum BatchAckError: Error, Hashable, Sendable, CustomStringConvertible {
    case malformed(WireFormatError)
    case unsupportedVersion(UInt8)
    /// The ack names another device (a misrouted or replayed message).
    case wrongDevice(String)
    /// Signed by a key id that is not among the head-end's ack keys in the config.
    case unknownKey(KeyID)
    case badSignature(sequence: UInt64)

    public var description: String {
        switch self {
        case .malformed(let e): return "malformed ack: \(e)"
        case .unsupportedVersion(let v): return "ack format version \(v) is not supported (this build reads version 1)"
        case .wrongDevice(let d): return "ack is addressed to device \(d), not to this device"
        case .unknownKey(let k): return "ack signed by key \(k), which is not a configured head-end ack key"
        case .badSignature(let s): return "ack for batch \(s): signature does not verify"
        }
    }
}
