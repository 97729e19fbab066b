// libFuzzer entry for the first parser a head-end runs on an untrusted MQTT payload: the sealed batch
// (`SealedBatch.parse`, `BatchHeader`), and the whole open path behind it (`BatchOpener.open`: HPKE,
// zstd, the interval and event body decoders, the header/body checks) with content that is
// authentic but hostile, as a compromised device would send. Built and run by
// `scripts/fuzz.sh sealed-batch` against the Wire module (compiled with -enable-testing).
//
// The first input byte selects:
//   even: the rest is a received message: parse it; an accepted message is exactly its parts and its
//         header encodes back to the same bytes;
//   odd:  the rest is a payload (a body, or a zstd frame when bit 1 is set), sealed and signed with
//         fixed keys under a header built from the next bytes, then opened: never a crash, and what
//         opens is what the header says.
import ConcentratorCore
@testable import Wire

private func key(from start: UInt8) -> [UInt8] { (0..<32).map { start &+ UInt8($0) } }
private let deviceSigning = try! SigningPrivateKey(seed: key(from: 0x10))
private let headEndSealing = try! AgreementPrivateKey(rawRepresentation: key(from: 0x40))
private let deviceID = "gw-0001"
private let opener = BatchOpener(sealingKeys: [headEndSealing], devices: RegisteredDevices([deviceID: [deviceSigning.publicKey]]),
                                 maximumBodyBytes: 1 << 20)

@_cdecl("LLVMFuzzerTestOneInput")
public func sealedBatchFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    if selector & 1 == 0 {
        if let sealed = try? SealedBatch.parse(input) {
            precondition(sealed.bytes == input, "an accepted message is not exactly its parts")
            precondition(sealed.header.encoded() == sealed.headerBytes, "the header does not encode back to its bytes")
        }
        _ = try? opener.open(input)
        return 0
    }
    // Header fields from the next 12 bytes; the rest is the payload.
    guard input.count >= 12 else { return 0 }
    var r = ByteReader(input)
    let kind = BatchKind(rawValue: 1 + (try! r.u8("kind")) % 3)!
    let flags = BatchFlags(rawValue: UInt16(selector >> 1) & 3)
    let meterCount = UInt32(try! r.u8("meters"))
    let valueCount = UInt32(try! r.bigEndian(UInt16.self, "values"))
    let bodyLength = try! r.bigEndian(UInt32.self, "body length") & 0xFFFFF
    let rangeMinutes = Int64(try! r.bigEndian(UInt32.self, "range"))
    let payload = r.rest()
    let start = Timestamp(milliseconds: 1_795_255_200_000)
    let header = BatchHeader(kind: kind, flags: flags, deviceID: deviceID, sequence: 7, rangeStart: start,
                             rangeEnd: Timestamp(milliseconds: start.milliseconds + rangeMinutes * 60_000), intervalSeconds: 3600,
                             meterCount: meterCount, valueCount: valueCount, sealingKeyID: headEndSealing.publicKey.id,
                             signingKeyID: deviceSigning.id, bodyLength: bodyLength,
                             ciphertextLength: UInt32(payload.count + SealedBatch.tagLength))
    let headerBytes = header.encoded()
    let info = batchSealingInfo(sealingKeyID: headEndSealing.publicKey.id, signingKeyID: deviceSigning.id)
    guard let (enc, ciphertext) = try? BatchHPKE.seal(payload, to: headEndSealing.publicKey, info: info, aad: headerBytes) else {
        return 0
    }
    let message = headerBytes + enc + ciphertext + deviceSigning.sign(headerBytes + enc + ciphertext)
    if let opened = try? opener.open(message) {
        let summary = opened.content.summary
        precondition(summary.meters == Int(meterCount) && summary.values == Int(valueCount), "opened content disagrees with its header")
    }
    return 0
}
