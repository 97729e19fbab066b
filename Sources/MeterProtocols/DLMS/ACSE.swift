import ConcentratorCore

/// The authentication mechanisms of the association (Green Book §9.4.2.2.2, mechanism-name
/// 2.16.756.5.8.2.N, encoded 60 85 74 05 08 02 N).
public enum DLMSMechanism: UInt8, Hashable, Sendable, CustomStringConvertible {
    case none = 0
    case lowLevel = 1
    case highLevelGMAC = 5

    public var description: String {
        switch self {
        case .none: return "no authentication"
        case .lowLevel: return "LLS (password)"
        case .highLevelGMAC: return "HLS-GMAC (mechanism 5)"
        }
    }
}

/// The xDLMS InitiateRequest carried in the AARQ's user-information (Green Book §9.5).
public struct InitiateRequest: Hashable, Sendable {
    public var proposedConformance: UInt32
    public var clientMaxReceivePDUSize: UInt16
    public var dlmsVersion: UInt8 = 6

    public init(proposedConformance: UInt32, clientMaxReceivePDUSize: UInt16) {
        self.proposedConformance = proposedConformance
        self.clientMaxReceivePDUSize = clientMaxReceivePDUSize
    }

    /// 01 | dedicated-key absent | response-allowed default | quality-of-service absent | version |
    /// conformance 5F 1F 04 00 + 3 bytes | max receive PDU size.
    public var encoded: [UInt8] {
        let c = proposedConformance
        return [0x01, 0x00, 0x00, 0x00, dlmsVersion, 0x5F, 0x1F, 0x04, 0x00, UInt8(c >> 16 & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c & 0xFF),
                UInt8(clientMaxReceivePDUSize >> 8), UInt8(clientMaxReceivePDUSize & 0xFF)]
    }

    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> InitiateRequest {
        var r = ByteReader(bytes)
        guard try r.u8("initiate-request tag") == 0x01 else { throw ByteFormatError("not an InitiateRequest (tag 01)", at: 0) }
        if try r.u8("dedicated-key flag") != 0 {
            let n = try AXDRLength.read(&r, "dedicated key")
            try r.skip(n, "dedicated key")
        }
        if try r.u8("response-allowed flag") != 0 { _ = try r.u8("response-allowed") }
        if try r.u8("quality-of-service flag") != 0 { _ = try r.u8("quality-of-service") }
        let version = try r.u8("dlms version")
        let conformance = try readConformance(&r)
        let size = try r.bigEndian(UInt16.self, "client max receive PDU size")
        var request = InitiateRequest(proposedConformance: conformance, clientMaxReceivePDUSize: size)
        request.dlmsVersion = version
        return request
    }
}

/// The xDLMS InitiateResponse carried in the AARE's user-information.
public struct InitiateResponse: Hashable, Sendable {
    public var negotiatedConformance: UInt32
    public var serverMaxReceivePDUSize: UInt16
    public var dlmsVersion: UInt8 = 6

    public init(negotiatedConformance: UInt32, serverMaxReceivePDUSize: UInt16) {
        self.negotiatedConformance = negotiatedConformance
        self.serverMaxReceivePDUSize = serverMaxReceivePDUSize
    }

    /// 08 | quality-of-service absent | version | conformance | max receive PDU size | vaa-name 0007.
    public var encoded: [UInt8] {
        let c = negotiatedConformance
        return [0x08, 0x00, dlmsVersion, 0x5F, 0x1F, 0x04, 0x00, UInt8(c >> 16 & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c & 0xFF),
                UInt8(serverMaxReceivePDUSize >> 8), UInt8(serverMaxReceivePDUSize & 0xFF), 0x00, 0x07]
    }

    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> InitiateResponse {
        var r = ByteReader(bytes)
        guard try r.u8("initiate-response tag") == 0x08 else { throw ByteFormatError("not an InitiateResponse (tag 08)", at: 0) }
        if try r.u8("quality-of-service flag") != 0 { _ = try r.u8("quality-of-service") }
        let version = try r.u8("dlms version")
        let conformance = try readConformance(&r)
        let size = try r.bigEndian(UInt16.self, "server max receive PDU size")
        _ = try r.bigEndian(UInt16.self, "vaa-name")
        var response = InitiateResponse(negotiatedConformance: conformance, serverMaxReceivePDUSize: size)
        response.dlmsVersion = version
        return response
    }
}

/// The conformance block: [APPLICATION 31] BIT STRING of 24 bits, 5F 1F 04 00 b1 b2 b3.
func readConformance(_ r: inout ByteReader) throws(ByteFormatError) -> UInt32 {
    let at = r.offset
    guard try r.u8("conformance tag") == 0x5F, try r.u8("conformance tag") == 0x1F else {
        throw ByteFormatError("conformance block tag (expected 5F 1F)", at: at)
    }
    guard try r.u8("conformance length") == 4 else { throw ByteFormatError("conformance length (expected 4)", at: at + 2) }
    _ = try r.u8("unused bits")
    let bytes = try r.raw(3, "conformance bits")
    return UInt32(bytes[0]) << 16 | UInt32(bytes[1]) << 8 | UInt32(bytes[2])
}

/// Conformance block bits (Green Book §9.5, "Conformance ::= [APPLICATION 31] IMPLICIT BIT
/// STRING"): bit n of the 24-bit string is the mask 1 << (23 − n) of the value as sent.
public enum DLMSConformance {
    public static let generalProtection: UInt32 = 0x400000
    public static let generalBlockTransfer: UInt32 = 0x200000
    public static let attribute0WithSet: UInt32 = 0x008000
    public static let priorityManagement: UInt32 = 0x004000
    public static let attribute0WithGet: UInt32 = 0x002000
    public static let blockTransferWithGet: UInt32 = 0x001000
    public static let blockTransferWithSet: UInt32 = 0x000800
    public static let blockTransferWithAction: UInt32 = 0x000400
    public static let multipleReferences: UInt32 = 0x000200
    public static let get: UInt32 = 0x000010
    public static let set: UInt32 = 0x000008
    public static let selectiveAccess: UInt32 = 0x000004
    public static let eventNotification: UInt32 = 0x000002
    public static let action: UInt32 = 0x000001

    /// What this client proposes: GET (with block transfer), SET, ACTION, selective access.
    public static let client: UInt32 = blockTransferWithGet | get | set | selectiveAccess | action
}
