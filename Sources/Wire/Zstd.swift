import CZstd

/// Why a zstd frame could not be decompressed.
public enum ZstdError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The input is not one complete zstd frame (bad magic, truncated, or bytes after the frame).
    case notAFrame(detail: String)
    /// The frame does not record its decompressed size; bounded decompression requires it.
    case unknownContentSize
    /// The frame declares more bytes than the caller allows.
    case contentTooLarge(declared: UInt64, maximum: Int)
    /// The frame's declared size differs from the size the caller expects.
    case contentSizeMismatch(declared: UInt64, expected: Int)
    /// libzstd reported an error while decompressing (corrupt data, checksum mismatch).
    case corrupt(detail: String)

    public var description: String {
        switch self {
        case .notAFrame(let d): return "not a single complete zstd frame: \(d)"
        case .unknownContentSize: return "zstd frame does not declare its content size"
        case .contentTooLarge(let d, let m): return "zstd frame declares \(d) bytes, more than the allowed \(m)"
        case .contentSizeMismatch(let d, let e): return "zstd frame declares \(d) bytes, expected \(e)"
        case .corrupt(let d): return "corrupt zstd data: \(d)"
        }
    }
}

/// One-shot zstd compression, and decompression that never allocates more than the caller allows.
///
/// Frames are written with their content size and a checksum, so the receiver can bound memory before
/// decompressing and detect corruption after.
public enum Zstd {
    /// The libzstd version in use, e.g. "1.5.4".
    public static var libraryVersion: String { String(cString: ZSTD_versionString()) }

    /// Compresses `input` into one frame that records the content size and an XXH64 checksum.
    public static func compress(_ input: [UInt8], level: Int32 = 19) -> [UInt8] {
        guard let context = ZSTD_createCCtx() else { fatalError("ZSTD_createCCtx: out of memory") }
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let written = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { inp in
                ZSTD_compress2(context, out.baseAddress, out.count, inp.baseAddress, inp.count)
            }
        }
        // With a destination of ZSTD_compressBound bytes, compression cannot fail except for lack of memory.
        precondition(ZSTD_isError(written) == 0, "ZSTD_compress2: \(String(cString: ZSTD_getErrorName(written)))")
        output.removeSubrange(written...)
        return output
    }

    /// The content size a frame declares, or nil when it declares none. Throws when `frame` does not
    /// start with a valid frame header.
    public static func frameContentSize(_ frame: [UInt8]) throws(ZstdError) -> UInt64? {
        let size = frame.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        if size == UInt64.max { return nil } // ZSTD_CONTENTSIZE_UNKNOWN
        if size == UInt64.max - 1 { throw .notAFrame(detail: "invalid frame header") } // ZSTD_CONTENTSIZE_ERROR
        return size
    }

    /// Decompresses exactly one frame that declares exactly `expectedSize` bytes, `expectedSize` being
    /// at most `maximumSize`. Never allocates more than `expectedSize` bytes for the output.
    public static func decompress(_ frame: [UInt8], expectedSize: Int, maximumSize: Int) throws(ZstdError) -> [UInt8] {
        guard let declared = try frameContentSize(frame) else { throw .unknownContentSize }
        guard declared <= UInt64(max(0, maximumSize)) else { throw .contentTooLarge(declared: declared, maximum: maximumSize) }
        guard declared == UInt64(max(0, expectedSize)) else {
            throw .contentSizeMismatch(declared: declared, expected: expectedSize)
        }
        let frameLength = frame.withUnsafeBytes { ZSTD_findFrameCompressedSize($0.baseAddress, $0.count) }
        if ZSTD_isError(frameLength) != 0 {
            throw .notAFrame(detail: String(cString: ZSTD_getErrorName(frameLength)))
        }
        guard frameLength == frame.count else {
            throw .notAFrame(detail: "\(frame.count - frameLength) bytes follow the frame")
        }
        var output = [UInt8](repeating: 0, count: expectedSize)
        let produced = output.withUnsafeMutableBytes { out in
            frame.withUnsafeBytes { inp in ZSTD_decompress(out.baseAddress, out.count, inp.baseAddress, inp.count) }
        }
        if ZSTD_isError(produced) != 0 { throw .corrupt(detail: String(cString: ZSTD_getErrorName(produced))) }
        guard produced == expectedSize else { throw .contentSizeMismatch(declared: UInt64(produced), expected: expectedSize) }
        return output
    }
}
