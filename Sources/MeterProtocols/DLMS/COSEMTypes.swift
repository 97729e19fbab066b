import ConcentratorCore

/// A COSEM logical name: the six bytes of a complete OBIS code (IEC 62056-6-1) A-B:C.D.E*F. Its
/// text goes through the one OBIS parser, `OBISCode`.
public struct COSEMLogicalName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Six bytes; anything else is rejected by the callers that read logical names.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) { bytes = [a, b, c, d, e, f] }

    /// Parses `1-0:1.8.0.255`, `1-0:1.8.0*255`, `1.0.1.8.0.255` or `1-0:1.8.0` (F = 255).
    public init?(_ text: String) {
        guard let parsed = (try? OBISCode.parse(text))?.logicalNameBytes else { return nil }
        bytes = parsed
    }

    /// `1-0:1.8.0.255`.
    public var description: String { OBISCode.logicalNameText(bytes) }

    public static func < (a: COSEMLogicalName, b: COSEMLogicalName) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// The clock object 0-0:1.0.0.255.
    public static let clock = COSEMLogicalName(0, 0, 1, 0, 0, 255)
    /// The current association object (Association LN, class 15) 0-0:40.0.0.255.
    public static let currentAssociation = COSEMLogicalName(0, 0, 40, 0, 0, 255)
    /// The disconnect control object 0-0:96.3.10.255.
    public static let disconnectControl = COSEMLogicalName(0, 0, 96, 3, 10, 255)
}

/// An attribute of a COSEM object: class, logical name, attribute index (Green Book §9.3,
/// Cosem-Attribute-Descriptor).
public struct COSEMAttribute: Hashable, Sendable, CustomStringConvertible {
    public var classID: UInt16
    public var logicalName: COSEMLogicalName
    public var attribute: Int8

    public init(classID: UInt16, logicalName: COSEMLogicalName, attribute: Int8) {
        self.classID = classID
        self.logicalName = logicalName
        self.attribute = attribute
    }

    public var description: String { "class \(classID) \(logicalName) attribute \(attribute)" }
}

/// A method of a COSEM object (Cosem-Method-Descriptor).
public struct COSEMMethod: Hashable, Sendable, CustomStringConvertible {
    public var classID: UInt16
    public var logicalName: COSEMLogicalName
    public var method: Int8

    public init(classID: UInt16, logicalName: COSEMLogicalName, method: Int8) {
        self.classID = classID
        self.logicalName = logicalName
        self.method = method
    }

    public var description: String { "class \(classID) \(logicalName) method \(method)" }
}

/// The COSEM interface classes this project reads (Blue Book DLMS UA 1000-1).
public enum COSEMClass {
    public static let data: UInt16 = 1
    public static let register: UInt16 = 3
    public static let extendedRegister: UInt16 = 4
    public static let profileGeneric: UInt16 = 7
    public static let clock: UInt16 = 8
    public static let associationLN: UInt16 = 15
    public static let disconnectControl: UInt16 = 70
}

/// A register's scaler and unit (attribute 3 of classes 3 and 4: structure { integer, enum }).
public struct COSEMScalerUnit: Hashable, Sendable, CustomStringConvertible {
    /// The value is raw × 10^scaler.
    public var scaler: Int8
    /// The unit code of the Blue Book's unit table (27 W, 30 Wh, 35 V, 255 no unit, …).
    public var unit: UInt8

    public init(scaler: Int8, unit: UInt8) {
        self.scaler = scaler
        self.unit = unit
    }

    /// Reads the structure a GET of attribute 3 returns.
    public init?(_ data: DLMSData) {
        guard case .structure(let e) = data, e.count == 2, let s = e[0].number, let u = e[1].number,
              s >= -128, s <= 127, u >= 0, u <= 255 else { return nil }
        scaler = Int8(s)
        unit = UInt8(u)
    }

    public var data: DLMSData { .structure([.integer(scaler), .enumerated(unit)]) }

    public var description: String { "scaler \(scaler) unit \(unit)" }

    /// `raw` × 10^scaler, exact for negative scalers (12345 × 10^-3 gives 12.345, not 12.345000000000001).
    public func apply(to raw: Double) -> Double {
        if scaler < 0 { return raw / Self.power(-Int(scaler)) }
        return raw * Self.power(Int(scaler))
    }

    /// The raw number that `apply` turns into `value` (the simulator's encoder).
    public func raw(for value: Double) -> Double {
        if scaler < 0 { return value * Self.power(-Int(scaler)) }
        return value / Self.power(Int(scaler))
    }

    static func power(_ n: Int) -> Double {
        var p = 1.0
        for _ in 0..<min(n, 308) { p *= 10 }
        return p
    }
}
