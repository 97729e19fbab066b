/// Why bytes do not parse: what was expected and at which byte offset of the input. The one error of
/// the one byte reader (`ByteReader`) that every codec in the project reads with.
public struct ByteFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was being read or which rule was broken.
    public let reason: String
    /// Byte offset in the input where the problem was found.
    public let offset: Int

    public init(_ reason: String, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "\(reason) at byte \(offset)" }
}
