import ConcentratorCore

/// The wire codecs' name for the one byte reader's error (`ByteFormatError` in ConcentratorCore).
public typealias WireFormatError = ByteFormatError
