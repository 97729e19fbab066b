#if canImport(Glibc)
import Glibc
#endif
import Platform

/// Direct writes to stdout and stderr.
enum Output {
    static func stdout(_ text: String) { write(1, text) }
    static func error(_ text: String) { write(2, "error: " + text + "\n") }
    static func note(_ text: String) { write(2, text + "\n") }

    /// Writes all of `bytes` to `fd`; throws on a write error (a full disk, a closed pipe).
    static func writeAll(_ bytes: [UInt8], to fd: Int32) throws(OutputError) {
        do { try FileDescriptor.writeAll(fd, bytes) } catch { throw OutputError(code: error.errnoCode) }
    }

    private static func write(_ fd: Int32, _ text: String) { try? writeAll(Array(text.utf8), to: fd) }
}

/// A failed write of command output.
struct OutputError: Error, CustomStringConvertible {
    let code: Int32
    var description: String { "cannot write the output: \(String(cString: strerror(code)))" }
}
