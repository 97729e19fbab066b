import ConcentratorCore

/// Decodes the rows of a profile buffer (array of structures) as its bytes arrive block by block:
/// complete entries come out, a cut entry waits for the next block.
struct DLMSRowStream: Hashable, Sendable {
    private var pending: [UInt8] = []
    private var remaining: Int?
    static let maximumPending = 1 << 16

    mutating func append(_ bytes: [UInt8], final: Bool) throws(ByteFormatError) -> [[DLMSData]] {
        pending += bytes
        var r = ByteReader(pending)
        if remaining == nil {
            guard pending.count >= 2 else { return try finish(final, []) }
            guard try r.u8("buffer tag") == 1 else { throw ByteFormatError("profile buffer is not an array", at: 0) }
            do { remaining = try AXDRLength.read(&r, "buffer", checkRemaining: false) } catch {
                if final { throw error }
                return []
            }
        }
        var rows: [[DLMSData]] = []
        while let left = remaining, left > 0 {
            let start = r.offset
            guard let entry = try? DLMSDataCodec.decode(&r) else {
                r = ByteReader(pending, from: start)
                break
            }
            guard case .structure(let values) = entry else { throw ByteFormatError("profile entry is not a structure", at: start) }
            rows.append(values)
            remaining = left - 1
        }
        pending = Array(pending[r.offset...])
        guard pending.count <= Self.maximumPending else { throw ByteFormatError("profile entry longer than \(Self.maximumPending) bytes", at: 0) }
        return try finish(final, rows)
    }

    private func finish(_ final: Bool, _ rows: [[DLMSData]]) throws(ByteFormatError) -> [[DLMSData]] {
        if final {
            guard remaining == 0, pending.isEmpty else {
                throw ByteFormatError("the last block ends inside the buffer (\(remaining ?? -1) entries missing, \(pending.count) bytes left)", at: 0)
            }
        }
        return rows
    }
}
