#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed file-system operation: the path, the operation and the system's reason (or, for a file
/// that is there but unfit, `problem`: "not a regular file (a FIFO)", "larger than 16 MiB").
public struct FileError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let operation: String
    public let errnoCode: Int32
    public let problem: String?

    public init(path: String, operation: String, errnoCode: Int32 = errno, problem: String? = nil) {
        self.path = path
        self.operation = operation
        self.errnoCode = errnoCode
        self.problem = problem
    }

    public var reason: String { problem ?? String(cString: strerror(errnoCode)) }
    public var description: String { "cannot \(operation) \(path): \(reason)" }
}
