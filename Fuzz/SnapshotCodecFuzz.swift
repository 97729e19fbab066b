// libFuzzer entry for the archive's stored snapshot rows (`SnapshotCodec`, in ConcentratorCore): a
// damaged archive or head-end database must give a typed error, never a crash. Built and run by
// `scripts/fuzz.sh snapshot`.
//
// The first input byte is the layout's value count (0…255); the rest is a stored row. A row that
// decodes encodes to bytes that decode to the same values, bit for bit.
import ConcentratorCore

@_cdecl("LLVMFuzzerTestOneInput")
public func snapshotCodecFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let count = bytes.first else { return 0 }
    guard let row = try? SnapshotCodec.decode(Array(bytes.dropFirst()), valueCount: Int(count)) else { return 0 }
    precondition(row.slots.count == Int(count), "a decoded row has the wrong number of slots")
    let again = try? SnapshotCodec.decode(SnapshotCodec.encode(row), valueCount: Int(count))
    precondition(again.map(bits) == bits(row), "a decoded row does not survive encoding")
    return 0
}

private func bits(_ row: SnapshotRowPayload) -> [String] {
    ["\(row.gatewayOffsetMilliseconds) \(String(describing: row.meterTimeOffsetMilliseconds)) \(row.clockUnsynced)"]
        + row.slots.map { slot in
            switch slot {
            case .value(let v): return "v\(v.bitPattern)"
            case .error(let e): return "e\(e.rawValue)"
            case .missing: return "-"
            }
        }
}
