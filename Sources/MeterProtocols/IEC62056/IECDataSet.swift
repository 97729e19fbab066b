import ConcentratorCore

/// One parenthesised value of a data set: `(0032907.841*kWh)` → text `0032907.841`, unit `kWh`.
public struct IECValue: Hashable, Sendable {
    public var text: String
    /// The unit after `*`, nil when none was sent.
    public var unit: String?

    public init(_ text: String, unit: String? = nil) {
        self.text = text
        self.unit = unit
    }

    /// The value as a number: an optional sign, digits and at most one decimal point (`.` or `,`).
    /// Nil for anything else (`---.-`, dates, hex status words, `ERROR`), never NaN or infinity.
    public var number: Double? {
        let bytes = Array(text.utf8)
        var i = 0
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
        var digits = 0, points = 0
        var normalized = Array(bytes[0..<i])
        while i < bytes.count {
            let b = bytes[i]
            if (0x30...0x39).contains(b) {
                digits += 1
                normalized.append(b)
            } else if b == UInt8(ascii: ".") || b == UInt8(ascii: ",") {
                points += 1
                normalized.append(UInt8(ascii: "."))
            } else {
                return nil
            }
            i += 1
        }
        guard digits > 0, points <= 1, digits <= 30 else { return nil }
        guard let d = Double(String(decoding: normalized, as: UTF8.self)), d.isFinite else { return nil }
        return d
    }

    /// `(text*unit)` as sent.
    public var encoded: String { "(" + text + (unit.map { "*" + $0 } ?? "") + ")" }
}

/// A data set: an address (usually an OBIS code) and one or more values. `1.8.0(0032907.841*kWh)`
/// has one value; `1.6.0(00.440*kW)(13-07-19 08:30)` has two; a P.01 value line `(0.014)(0.000)`
/// is one data set without an address.
public struct IECDataSet: Hashable, Sendable {
    /// The address as sent, nil when the set starts with `(`.
    public var address: String?
    public var values: [IECValue]

    public init(address: String?, values: [IECValue]) {
        self.address = address
        self.values = values
    }

    /// The address parsed as an OBIS code, nil when there is none or it is not one.
    public var obis: OBISCode? { address.flatMap { try? OBISCode.parse($0) } }

    public var encoded: String { (address ?? "") + values.map(\.encoded).joined() }
}

/// One line of a data block: the data sets between two CR LF.
public struct IECDataLine: Hashable, Sendable {
    public var sets: [IECDataSet]

    public init(sets: [IECDataSet]) { self.sets = sets }

    /// The longest address, value and unit accepted (the standard allows 16, 32 and 16; meters
    /// print dates and status words in values, so values get room).
    public static let addressLimit = 32
    public static let valueLimit = 128
    public static let unitLimit = 16

    /// Parses one line (without CR LF). Several data sets may follow each other; an address ends at
    /// `(`; a value ends at `)`, with an optional `*unit` inside.
    public static func parse(_ bytes: [UInt8]) throws(ByteFormatError) -> IECDataLine {
        var r = ByteReader(bytes)
        var sets: [IECDataSet] = []
        while !r.isAtEnd {
            var address: [UInt8] = []
            let addressStart = r.offset
            while let p = r.peek(), p != IECCharacter.openParenthesis {
                guard p != IECCharacter.closeParenthesis, p != IECCharacter.slash, p != IECCharacter.exclamation,
                      (0x20...0x7E).contains(p) else {
                    throw r.error("character 0x\(Hex.encode([p])) is not allowed in a data set address")
                }
                address.append(p)
                try r.skip(1, "address")
                guard address.count <= addressLimit else {
                    throw ByteFormatError("data set address longer than \(addressLimit) characters", at: addressStart)
                }
            }
            guard !r.isAtEnd else { throw ByteFormatError("data set address without a value", at: addressStart) }
            var values: [IECValue] = []
            while r.peek() == IECCharacter.openParenthesis {
                values.append(try value(&r))
            }
            sets.append(IECDataSet(address: address.isEmpty ? nil : String(decoding: address, as: UTF8.self), values: values))
        }
        return IECDataLine(sets: sets)
    }

    private static func value(_ r: inout ByteReader) throws(ByteFormatError) -> IECValue {
        let start = r.offset
        try r.skip(1, "(")
        var text: [UInt8] = []
        var unit: [UInt8]?
        while true {
            guard let p = r.peek() else { throw ByteFormatError("value without its closing )", at: start) }
            try r.skip(1, "value")
            if p == IECCharacter.closeParenthesis { break }
            // The standard keeps '/' out of values, but meters print units such as "Imp/kWh" (LEM EM4TII+).
            guard (0x20...0x7E).contains(p), p != IECCharacter.openParenthesis, p != IECCharacter.exclamation else {
                throw ByteFormatError("character 0x\(Hex.encode([p])) is not allowed in a value", at: r.offset - 1)
            }
            if p == IECCharacter.star, unit == nil {
                unit = []
            } else if unit != nil {
                guard p != IECCharacter.star else { throw ByteFormatError("a value has at most one unit", at: r.offset - 1) }
                unit!.append(p)
                guard unit!.count <= unitLimit else { throw ByteFormatError("unit longer than \(unitLimit) characters", at: start) }
            } else {
                text.append(p)
                guard text.count <= valueLimit else { throw ByteFormatError("value longer than \(valueLimit) characters", at: start) }
            }
        }
        return IECValue(String(decoding: text, as: UTF8.self), unit: unit.map { String(decoding: $0, as: UTF8.self) })
    }

    public var encoded: String { sets.map(\.encoded).joined() }
}

/// The lines of a data block, and a readout's trailing `!`.
public struct IECDataBlock: Hashable, Sendable {
    public var lines: [IECDataLine]
    /// Where each line starts in the parsed body (empty for a block built in code).
    public var lineOffsets: [Int]

    public init(lines: [IECDataLine], lineOffsets: [Int] = []) {
        self.lines = lines
        self.lineOffsets = lineOffsets
    }

    /// The body offset of line `index` (0 when unknown), for error positions.
    public func offset(ofLine index: Int) -> Int { index < lineOffsets.count ? lineOffsets[index] : 0 }

    /// Parses the body of an STX block (between STX and ETX). `readout`: the data ends with the
    /// `! CR LF` line (a data message outside programming mode); otherwise the whole body is data
    /// and a last line may lack its CR LF. Empty lines are skipped.
    public static func parse(body: [UInt8], readout: Bool) throws(ByteFormatError) -> IECDataBlock {
        var lines: [IECDataLine] = []
        var offsets: [Int] = []
        var start = 0
        var i = 0
        var ended = false
        while i < body.count {
            if body[i] == IECCharacter.lf {
                guard i > start, body[i - 1] == IECCharacter.cr else { throw ByteFormatError("LF without CR in a data block", at: i) }
                let line = Array(body[start..<(i - 1)])
                if readout, line == [IECCharacter.exclamation] {
                    guard i + 1 == body.count else { throw ByteFormatError("data after the closing ! of a readout", at: i + 1) }
                    ended = true
                } else if !line.isEmpty {
                    do { lines.append(try IECDataLine.parse(line)) } catch { throw ByteFormatError(error.reason, at: start + error.offset) }
                    offsets.append(start)
                }
                start = i + 1
            }
            i += 1
        }
        if start < body.count {
            guard !readout else { throw ByteFormatError("readout data block does not end with ! CR LF", at: start) }
            let line = Array(body[start...])
            do { lines.append(try IECDataLine.parse(line)) } catch { throw ByteFormatError(error.reason, at: start + error.offset) }
            offsets.append(start)
        }
        if readout && !ended { throw ByteFormatError("readout data block does not end with ! CR LF", at: body.count) }
        return IECDataBlock(lines: lines, lineOffsets: offsets)
    }

    /// Every data set of every line, in order.
    public var sets: [IECDataSet] { lines.flatMap(\.sets) }

    /// The first data set whose address is an OBIS code matching `code`.
    public func first(_ code: OBISCode) -> IECDataSet? { sets.first { $0.obis.map(code.matches) ?? false } }

    /// The body as a readout sends it (lines with CR LF, then `! CR LF` when `readout`).
    public func encoded(readout: Bool) -> [UInt8] {
        var out: [UInt8] = []
        for line in lines { out += Array(line.encoded.utf8) + [IECCharacter.cr, IECCharacter.lf] }
        if readout { out += [IECCharacter.exclamation, IECCharacter.cr, IECCharacter.lf] }
        return out
    }
}
