#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A write that did not complete: the system's reason (EPIPE: the reader is gone; ENOSPC: the disk
/// is full; EIO for a write that wrote nothing).
public struct FileDescriptorWriteError: Error, Hashable, Sendable, CustomStringConvertible {
    public let errnoCode: Int32

    public init(errnoCode: Int32) { self.errnoCode = errnoCode }

    public var description: String { String(cString: strerror(errnoCode)) }
}

/// The one "write every byte" loop of the project: files, pipes, terminals, stdout and sockets.
public enum FileDescriptor {
    /// Writes all of `bytes` to `fd`, continuing after short writes and EINTR. Blocking.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(FileDescriptorWriteError) {
        try loop(bytes) { base, count in write(fd, base, count) }
    }

    /// Writes all of `text`'s UTF-8 to `fd`, continuing after short writes and EINTR. Blocking.
    public static func writeAll(_ fd: Int32, _ text: String) throws(FileDescriptorWriteError) {
        try writeAll(fd, Array(text.utf8))
    }

    /// Sends all of `bytes` on the socket `fd` without raising SIGPIPE when the peer is gone.
    public static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws(FileDescriptorWriteError) {
        try loop(bytes) { base, count in send(fd, base, count, Int32(MSG_NOSIGNAL)) }
    }

    private static func loop(_ bytes: [UInt8], _ call: (UnsafeRawPointer, Int) -> Int) throws(FileDescriptorWriteError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { call($0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileDescriptorWriteError(errnoCode: errno)
            }
            if n == 0 { throw FileDescriptorWriteError(errnoCode: EIO) }
            offset += n
        }
    }
}
