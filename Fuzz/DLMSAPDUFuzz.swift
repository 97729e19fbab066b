// libFuzzer entry for the DLMS application layer: A-XDR Data, the xDLMS service APDUs, AARQ/AARE,
// the InitiateRequest/Response, ciphered APDU framing, COSEM date-times and the incremental profile
// row stream. Built and run by scripts/fuzz.sh apdu (alias axdr). Besides "never crash", every
// decoded value must encode to bytes that decode and encode to the same bytes (compared as bytes:
// a float NaN is not equal to itself).
import ConcentratorCore
@testable import MeterProtocols

@_cdecl("LLVMFuzzerTestOneInput")
public func dlmsAPDUFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let first = bytes.first else { return 0 }

    if let value = try? DLMSDataCodec.decode(bytes) {
        let encoded = DLMSDataCodec.encode(value)
        precondition((try? DLMSDataCodec.decode(encoded)).map(DLMSDataCodec.encode) == encoded, "Data does not round-trip")
    }
    if let apdu = try? XDLMSAPDU.decode(bytes) {
        precondition((try? XDLMSAPDU.decode(apdu.encoded))?.encoded == apdu.encoded, "xDLMS APDU does not round-trip")
    }
    if let aarq = try? AARQ.decode(bytes) {
        precondition((try? AARQ.decode(aarq.encoded)) == aarq, "AARQ does not round-trip")
    }
    if let aare = try? AARE.decode(bytes) {
        precondition((try? AARE.decode(aare.encoded)) == aare, "AARE does not round-trip")
    }
    if let request = try? InitiateRequest.decode(bytes) {
        precondition((try? InitiateRequest.decode(request.encoded)) == request, "InitiateRequest does not round-trip")
    }
    if let response = try? InitiateResponse.decode(bytes) {
        precondition((try? InitiateResponse.decode(response.encoded)) == response, "InitiateResponse does not round-trip")
    }
    if let ciphered = try? CipheredAPDU.decode(bytes) {
        precondition((try? CipheredAPDU.decode(ciphered.encoded)) == ciphered, "ciphered APDU does not round-trip")
    }
    if bytes.count >= 12, let dt = COSEMDateTime(bytes: Array(bytes.prefix(12))), let t = dt.timestamp {
        let again = COSEMDateTime(t, deviationMinutes: dt.deviationMinutes ?? 0)
        precondition(again.timestamp == t || dt.bytes[8] > 99, "date-time does not round-trip")
    }
    // The row stream at one split equals the whole buffer decoded at once.
    var stream = DLMSRowStream()
    let cut = Int(first) % (bytes.count + 1)
    if let a = try? stream.append(Array(bytes[..<cut]), final: false), let b = try? stream.append(Array(bytes[cut...]), final: true),
       case .array(let entries)? = try? DLMSDataCodec.decode(bytes) {
        precondition((a + b).map { DLMSDataCodec.encode(.structure($0)) } == entries.map(DLMSDataCodec.encode),
                     "row stream differs from the whole buffer")
    }
    return 0
}
