#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed file-system operation: the path, the operation and the system's reason.
public struct FileError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let operation: String
    public let errnoCode: Int32

    public init(path: String, operation: String, errnoCode: Int32 = errno) {
        self.path = path
        self.operation = operation
        self.errnoCode = errnoCode
    }

    public var reason: String { String(cString: strerror(errnoCode)) }
    public var description: String { "cannot \(operation) \(path): \(reason)" }
}
