/// The identity an M-Bus or wireless M-Bus meter announces in every telegram: identification number,
/// manufacturer, version and device type (medium). EN 13757-3 "long header" and EN 13757-4 link
/// layer; together these 8 bytes are the meter's secondary address (EN 13757-7).
public struct MBusIdentity: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The identification number as its 8 digits read as hexadecimal: id "12345678" is 0x1234_5678.
    /// The standard asks for BCD digits; some meters use hex letters, which are kept as they are.
    public var number: UInt32
    /// The manufacturer code: three letters A–Z packed in 15 bits (`MBusManufacturer`).
    public var manufacturer: UInt16
    public var version: UInt8
    /// The device type / medium byte (0x04 heat, 0x07 water, 0x08 heat-cost allocator, …).
    public var medium: UInt8

    public init(number: UInt32, manufacturer: UInt16, version: UInt8, medium: UInt8) {
        self.number = number
        self.manufacturer = manufacturer
        self.version = version
        self.medium = medium
    }

    /// The 8 digits of the identification number (hex letters in upper case).
    public var numberText: String { MBusIdentity.hex(UInt64(number), digits: 8) }

    /// `12345678 ELS v51 gas (03)`: the form logs and the heard list show.
    public var description: String {
        "\(numberText) \(MBusManufacturer.letters(manufacturer)) v\(version) \(MBusMedium.name(medium)) (\(MBusIdentity.hex(UInt64(medium), digits: 2)))"
    }

    /// The 16-digit secondary address text: id, manufacturer code, version, medium in hex
    /// (`1234567893150333`), the form libmbus and most M-Bus tools print.
    public var secondaryAddressText: String {
        numberText + MBusIdentity.hex(UInt64(manufacturer), digits: 4) + MBusIdentity.hex(UInt64(version), digits: 2)
            + MBusIdentity.hex(UInt64(medium), digits: 2)
    }

    public static func < (a: MBusIdentity, b: MBusIdentity) -> Bool {
        (a.number, a.manufacturer, a.version, a.medium) < (b.number, b.manufacturer, b.version, b.medium)
    }

    static func hex(_ value: UInt64, digits: Int) -> String {
        let table = Array("0123456789ABCDEF")
        return String((0..<digits).reversed().map { table[Int((value >> UInt64(4 * $0)) & 0xF)] })
    }
}

/// Manufacturer codes (EN 13757-3 / the FLAG association): three letters, each letter − 64 in five
/// bits, first letter most significant ("ELS" = 0x1593, "KAM" = 0x2C2D).
public enum MBusManufacturer {
    /// The code for three upper-case letters, or nil for anything else.
    public static func code(_ letters: String) -> UInt16? {
        let scalars = Array(letters.unicodeScalars)
        guard scalars.count == 3, scalars.allSatisfy({ ("A"..."Z").contains($0) }) else { return nil }
        return scalars.reduce(UInt16(0)) { $0 << 5 | UInt16($1.value - 64) }
    }

    /// The three letters of a code; codes outside the letter range print as `?XXXX` (hex).
    public static func letters(_ code: UInt16) -> String {
        let parts = [(code >> 10) & 0x1F, (code >> 5) & 0x1F, code & 0x1F]
        guard code & 0x8000 == 0, parts.allSatisfy({ (1...26).contains($0) }) else {
            return "?" + MBusIdentity.hex(UInt64(code), digits: 4)
        }
        return String(String.UnicodeScalarView(parts.map { Unicode.Scalar(UInt8($0 + 64)) }))
    }
}

/// Device type (medium) names, EN 13757-3 Table 3 / OMS Vol.2 Table 2 (the common ones).
public enum MBusMedium {
    public static func name(_ medium: UInt8) -> String {
        switch medium {
        case 0x00: return "other"
        case 0x01: return "oil"
        case 0x02: return "electricity"
        case 0x03: return "gas"
        case 0x04: return "heat"
        case 0x05: return "steam"
        case 0x06: return "warm water"
        case 0x07: return "water"
        case 0x08: return "heat-cost allocator"
        case 0x09: return "compressed air"
        case 0x0A: return "cooling (outlet)"
        case 0x0B: return "cooling (inlet)"
        case 0x0C: return "heat (inlet)"
        case 0x0D: return "heat/cooling"
        case 0x0E: return "bus/system component"
        case 0x15: return "hot water"
        case 0x16: return "cold water"
        case 0x17: return "dual water"
        case 0x18: return "pressure"
        case 0x19: return "A/D converter"
        case 0x1A: return "smoke detector"
        case 0x1B: return "room sensor"
        case 0x1C: return "gas detector"
        case 0x25: return "radio converter (system side)"
        case 0x31: return "OMS MUC"
        case 0x32: return "OMS unidirectional repeater"
        case 0x33: return "OMS bidirectional repeater"
        case 0x36: return "radio converter (system side)"
        case 0x37: return "radio converter (meter side)"
        default: return "medium"
        }
    }
}

/// A secondary address to select, with wildcards (EN 13757-3, selection with CI 0x52): each digit of
/// the identification number may be the wildcard F; manufacturer, version and medium are each
/// either given or wild (0xFFFF / 0xFF on the wire). Also the form a wireless meter is configured by.
public struct MBusSecondaryAddress: Hashable, Sendable, CustomStringConvertible {
    /// The identification digits, most significant first; nil is the wildcard F.
    public var digits: [UInt8?]
    public var manufacturer: UInt16?
    public var version: UInt8?
    public var medium: UInt8?

    /// Everything wild: every meter on the bus matches.
    public static let anyMeter = MBusSecondaryAddress(digits: Array(repeating: nil, count: 8))

    public init(digits: [UInt8?], manufacturer: UInt16? = nil, version: UInt8? = nil, medium: UInt8? = nil) {
        precondition(digits.count == 8 && digits.allSatisfy { ($0 ?? 0) < 0xF }, "eight digits 0-E or nil")
        self.digits = digits
        self.manufacturer = manufacturer
        self.version = version
        self.medium = medium
    }

    /// The address that selects exactly this identity (its id must not contain the digit F).
    public init(exactly identity: MBusIdentity) {
        let ds = (0..<8).reversed().map { UInt8((identity.number >> UInt32(4 * $0)) & 0xF) }
        self.init(digits: ds.map { $0 == 0xF ? nil : $0 }, manufacturer: identity.manufacturer, version: identity.version,
                  medium: identity.medium)
    }

    /// Parses `IIIIIIIIMMMMVVDD` (16 hex digits; F digits are wildcards, FFFF/FF wild fields) or
    /// just the 8 id digits (the rest wild). Case and spaces are ignored. Nil when malformed.
    public init?(text: String) {
        let hex = text.unicodeScalars.filter { $0 != " " }.map { Character($0) }
        guard hex.count == 8 || hex.count == 16 else { return nil }
        var nibbles: [UInt8] = []
        for c in hex {
            guard let v = c.hexDigitValue else { return nil }
            nibbles.append(UInt8(v))
        }
        func field(_ range: Range<Int>) -> UInt64 { nibbles[range].reduce(UInt64(0)) { $0 << 4 | UInt64($1) } }
        digits = nibbles[0..<8].map { $0 == 0xF ? nil : $0 }
        guard nibbles.count == 16 else { manufacturer = nil; version = nil; medium = nil; return }
        let m = field(8..<12), v = field(12..<14), d = field(14..<16)
        manufacturer = m == 0xFFFF ? nil : UInt16(m)
        version = v == 0xFF ? nil : UInt8(v)
        medium = d == 0xFF ? nil : UInt8(d)
    }

    /// The 16-digit form with F wildcards (`12FFFFFFFFFFFFFF`).
    public var description: String {
        let id = digits.map { MBusIdentity.hex(UInt64($0 ?? 0xF), digits: 1) }.joined()
        return id + MBusIdentity.hex(UInt64(manufacturer ?? 0xFFFF), digits: 4) + MBusIdentity.hex(UInt64(version ?? 0xFF), digits: 2)
            + MBusIdentity.hex(UInt64(medium ?? 0xFF), digits: 2)
    }

    /// Whether no field is wild.
    public var isExact: Bool { digits.allSatisfy { $0 != nil } && manufacturer != nil && version != nil && medium != nil }

    /// Whether a meter with this identity answers a selection with this address.
    public func matches(_ identity: MBusIdentity) -> Bool {
        for (i, digit) in digits.enumerated() {
            guard let digit else { continue }
            if UInt8((identity.number >> UInt32(4 * (7 - i))) & 0xF) != digit { return false }
        }
        if let manufacturer, manufacturer != identity.manufacturer { return false }
        if let version, version != identity.version { return false }
        if let medium, medium != identity.medium { return false }
        return true
    }
}
