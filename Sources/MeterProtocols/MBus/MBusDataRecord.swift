import ConcentratorCore

/// The value of one data record, as its DIF's data field and VIF code it.
public enum MBusValue: Hashable, Sendable {
    /// No data (data field 0 or 8).
    case none
    /// A binary integer (type B, signed).
    case integer(Int64)
    /// A BCD number (type A).
    case bcd(Int64)
    /// BCD digits that are not all 0–9 (a meter's "no value" or an error marker): the raw bytes.
    case invalidBCD([UInt8])
    /// IEEE 754 binary32 (type H).
    case real(Double)
    case dateTime(MBusDateTime)
    /// Bit flags (type D): error flags, digital inputs and outputs.
    case flags(UInt64)
    /// Text from a variable-length field (already in reading order).
    case text(String)
    /// Bytes with no number in them (long binary, manufacturer data).
    case bytes([UInt8])

    /// The number before the VIF's factor, for numeric codings.
    public var number: Double? {
        switch self {
        case .integer(let v), .bcd(let v): return Double(v)
        case .real(let v): return v.isFinite ? v : nil
        case .flags(let v): return Double(v)
        default: return nil
        }
    }
}

/// One data record of an EN 13757-3 variable data structure: data information block (DIF and up to
/// ten DIFEs), value information block (VIF and up to ten VIFEs), and the data.
public struct MBusDataRecord: Hashable, Sendable {
    /// The DIF and DIFE bytes as sent.
    public var dib: [UInt8]
    /// The VIF and VIFE bytes as sent (plain-text VIF: with its length and characters).
    public var vib: [UInt8]
    /// The data bytes as sent.
    public var data: [UInt8]
    /// Where the record starts in the user data.
    public var offset: Int
    public var function: MBusFunctionField
    public var storage: UInt64
    public var tariff: UInt32
    public var subunit: UInt32
    public var description: MBusValueDescription
    public var value: MBusValue

    /// The data field (low nibble of the DIF): 0 none, 1–4/6/7 integers, 5 real, 9–C/E BCD, D variable.
    public var dataField: UInt8 { dib[0] & 0x0F }

    /// The value in `description.unit`: the number times the VIF's factor; nil for dates, text, bytes.
    public var scaledValue: Double? { value.number.map { $0 * description.factor } }
}

/// The records of one telegram's application data, plus what follows them.
public struct MBusRecordBlock: Hashable, Sendable {
    public var records: [MBusDataRecord]
    /// Bytes after a DIF 0F or 1F: manufacturer specific, kept but not interpreted.
    public var manufacturerData: [UInt8]
    /// DIF 1F ended the records: the slave has more in the next telegram (multi-telegram readout).
    public var moreRecordsFollow: Bool
}

/// Decodes the records of EN 13757-3 §6 (variable data structure). Idle fillers (2F) are skipped,
/// manufacturer-specific data after 0F/1F is kept as bytes. Pure; every shortfall or reserved code
/// is a `ByteFormatError` with its offset.
public enum MBusRecordDecoder {
    public static let maximumExtensions = 10
    /// Data bytes per data field code (D, variable, is read from its LVAR byte).
    static let fixedLength: [Int] = [0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, 0, 6, 0]

    public static func decode(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) throws(ByteFormatError) -> MBusRecordBlock {
        var r = ByteReader(bytes, from: start, to: end)
        var records: [MBusDataRecord] = []
        while !r.isAtEnd {
            let offset = r.offset
            let dif = try r.u8("DIF")
            switch dif {
            case 0x2F:
                continue
            case 0x0F, 0x1F:
                return MBusRecordBlock(records: records, manufacturerData: r.rest(), moreRecordsFollow: dif == 0x1F)
            case 0x7F:
                continue // global readout request: a master's record, no VIF, no data
            case _ where dif & 0x0F == 0x0F:
                throw ByteFormatError("reserved DIF 0x\(Hex.encode([dif]))", at: offset)
            default:
                records.append(try record(dif: dif, offset: offset, reader: &r))
            }
        }
        return MBusRecordBlock(records: records, manufacturerData: [], moreRecordsFollow: false)
    }

    private static func record(dif: UInt8, offset: Int, reader r: inout ByteReader) throws(ByteFormatError) -> MBusDataRecord {
        var dib = [dif]
        var storage = UInt64((dif >> 6) & 1)
        var tariff: UInt32 = 0
        var subunit: UInt32 = 0
        var extended = dif & 0x80 != 0
        var index = 0
        while extended {
            guard index < maximumExtensions else { throw r.error("more than \(maximumExtensions) DIFEs") }
            let dife = try r.u8("DIFE")
            dib.append(dife)
            storage |= UInt64(dife & 0x0F) << UInt64(1 + 4 * index)
            tariff |= UInt32((dife >> 4) & 0x03) << UInt32(2 * index)
            subunit |= UInt32((dife >> 6) & 0x01) << UInt32(index)
            extended = dife & 0x80 != 0
            index += 1
        }
        let (vib, description) = try valueInformation(&r)
        let function: MBusFunctionField = [.instantaneous, .maximum, .minimum, .error][Int((dif >> 4) & 3)]
        let coding = dif & 0x0F
        let data: [UInt8]
        let value: MBusValue
        if coding == 0x0D {
            (data, value) = try variableLength(&r)
        } else {
            data = try r.raw(fixedLength[Int(coding)], "data of the record at byte \(offset)")
            value = decodeValue(coding: coding, data: data, kind: description.kind)
        }
        return MBusDataRecord(dib: dib, vib: vib, data: data, offset: offset, function: function, storage: storage,
                              tariff: tariff, subunit: subunit, description: description, value: value)
    }

    static func valueInformation(_ r: inout ByteReader) throws(ByteFormatError) -> ([UInt8], MBusValueDescription) {
        let vif = try r.u8("VIF")
        var vib = [vif]
        var d: MBusValueDescription
        var extended: Bool
        var manufacturerVIF = false
        switch vif & 0x7F {
        case 0x7C:
            let length = Int(try r.u8("plain-text VIF length"))
            let chars = try r.raw(length, "plain-text VIF")
            vib += [UInt8(length)] + chars
            d = MBusValueDescription(kind: .unknown)
            d.plainTextUnit = String(decoding: chars.reversed(), as: UTF8.self)
            extended = vif & 0x80 != 0
        case 0x7B:
            let second = try r.u8("VIF of table 0xFB")
            vib.append(second)
            d = MBusVIFTable.extendedFB(second)
            extended = second & 0x80 != 0
        case 0x7D:
            let second = try r.u8("VIF of table 0xFD")
            vib.append(second)
            d = MBusVIFTable.extendedFD(second)
            extended = second & 0x80 != 0
        case 0x7F:
            d = MBusValueDescription(kind: .manufacturerSpecific)
            manufacturerVIF = true
            extended = vif & 0x80 != 0
        default:
            d = MBusVIFTable.primary(vif)
            extended = vif & 0x80 != 0
        }
        var count = 0
        while extended {
            guard count < maximumExtensions else { throw r.error("more than \(maximumExtensions) VIFEs") }
            let vife = try r.u8("VIFE")
            vib.append(vife)
            count += 1
            extended = vife & 0x80 != 0
            if manufacturerVIF || d.manufacturerSpecificExtension { continue }
            switch vife & 0x7F {
            case 0x7F:
                d.manufacturerSpecificExtension = true
            case 0x7C:
                // The next VIFE comes from the second combinable table (EN 13757-3 table 16).
                d.modifiers.append(0x7C)
                guard extended else { continue }
                let next = try r.u8("VIFE of the second combinable table")
                vib.append(next)
                count += 1
                d.modifiers.append(next & 0x7F)
                extended = next & 0x80 != 0
            default:
                MBusVIFTable.combine(vife, into: &d)
            }
        }
        return (vib, d)
    }

    static func decodeValue(coding: UInt8, data: [UInt8], kind: MBusValueKind) -> MBusValue {
        switch coding {
        case 0x00, 0x08:
            return .none
        case 0x05:
            return .real(Double(MBusDataCoding.real32(data)))
        case 0x09, 0x0A, 0x0B, 0x0C, 0x0E:
            return MBusDataCoding.bcd(data).map { .bcd($0) } ?? .invalidBCD(data)
        default:
            switch (kind, data.count) {
            case (.date, 2), (.dateTime, 2), (.batteryChangeDate, 2): return .dateTime(MBusDataCoding.dateG(data))
            case (.date, 4), (.dateTime, 4), (.batteryChangeDate, 4): return .dateTime(MBusDataCoding.dateTimeF(data))
            case (.dateTime, 6), (.batteryChangeDate, 6): return .dateTime(MBusDataCoding.dateTimeI(data))
            case (.dateTime, 3): return .dateTime(MBusDataCoding.timeJ(data))
            case (.errorFlags, _), (.errorMask, _), (.digitalInput, _), (.digitalOutput, _):
                return .flags(MBusDataCoding.unsignedInteger(data))
            default:
                return .integer(MBusDataCoding.signedInteger(data))
            }
        }
    }

    /// Data field D: the LVAR byte says what follows (EN 13757-3 table 5).
    static func variableLength(_ r: inout ByteReader) throws(ByteFormatError) -> ([UInt8], MBusValue) {
        let at = r.offset
        let lvar = try r.u8("LVAR")
        switch lvar {
        case 0x00...0xBF:
            let chars = try r.raw(Int(lvar), "text")
            let text = String(decoding: chars.reversed(), as: UTF8.self)
            return ([lvar] + chars, .text(text))
        case 0xC0...0xC9, 0xD0...0xD9:
            let digits = try r.raw(Int(lvar & 0x0F), "variable-length BCD")
            guard let v = MBusDataCoding.bcd(digits) else { return ([lvar] + digits, .invalidBCD(digits)) }
            return ([lvar] + digits, .bcd(lvar >= 0xD0 ? -v : v))
        case 0xE0...0xEF:
            let raw = try r.raw(Int(lvar - 0xE0), "variable-length binary")
            return ([lvar] + raw, raw.count <= 8 ? .integer(MBusDataCoding.signedInteger(raw)) : .bytes(raw))
        case 0xF0...0xF4:
            let raw = try r.raw(4 * Int(lvar - 0xEC), "variable-length binary")
            return ([lvar] + raw, .bytes(raw))
        case 0xF5:
            let raw = try r.raw(48, "variable-length binary")
            return ([lvar] + raw, .bytes(raw))
        case 0xF6:
            let raw = try r.raw(64, "variable-length binary")
            return ([lvar] + raw, .bytes(raw))
        default:
            throw ByteFormatError("reserved LVAR 0x\(Hex.encode([lvar]))", at: at)
        }
    }
}
