import ConcentratorCore

/// Selective access on an attribute (Green Book §9.3, Selective-Access-Descriptor): the selector
/// and its parameters. Selector 1 on profile generic is the range descriptor (`COSEMProfile.range`).
public struct SelectiveAccess: Hashable, Sendable {
    public var selector: UInt8
    public var parameters: DLMSData

    public init(selector: UInt8, parameters: DLMSData) {
        self.selector = selector
        self.parameters = parameters
    }
}

/// A data-access-result (Green Book §9.5): 0 success, 1 hardware fault, 2 temporary failure,
/// 3 read-write denied, 4 object undefined, 9 object class inconsistent, 11 object unavailable,
/// 12 type unmatched, 13 scope of access violated, 14 data block unavailable, 250 other reason.
public typealias DataAccessResult = UInt8

/// The result of a GET for one attribute: the data, or why not.
public enum GetResult: Hashable, Sendable {
    case data(DLMSData)
    case failure(DataAccessResult)
}

/// The xDLMS service APDUs with logical-name referencing (Green Book §9.5): GET, SET and ACTION
/// requests and responses, the exception response and the confirmed-service-error.
public enum XDLMSAPDU: Hashable, Sendable {
    /// C0 01: one attribute, optionally with selective access.
    case getRequestNormal(invokeID: UInt8, attribute: COSEMAttribute, access: SelectiveAccess?)
    /// C0 02: the next block of a GET answered with-datablock.
    case getRequestNext(invokeID: UInt8, block: UInt32)
    /// C4 01.
    case getResponseNormal(invokeID: UInt8, result: GetResult)
    /// C4 02: one block of a long answer; `raw` holds that part of the encoded data (or the failure).
    case getResponseBlock(invokeID: UInt8, last: Bool, block: UInt32, raw: Result<[UInt8], BlockFailure>)
    /// C1 01.
    case setRequestNormal(invokeID: UInt8, attribute: COSEMAttribute, access: SelectiveAccess?, value: DLMSData)
    /// C5 01.
    case setResponseNormal(invokeID: UInt8, result: DataAccessResult)
    /// C3 01.
    case actionRequestNormal(invokeID: UInt8, method: COSEMMethod, parameters: DLMSData?)
    /// C7 01: the action result (0 success) and optional return parameters.
    case actionResponseNormal(invokeID: UInt8, result: UInt8, returned: GetResult?)
    /// D8: state-error and service-error (Green Book §9.5, ExceptionResponse).
    case exceptionResponse(stateError: UInt8, serviceError: UInt8)
    /// 0E: confirmed-service-error: the service, the error kind and the value.
    case confirmedServiceError(service: UInt8, kind: UInt8, value: UInt8)

    /// The data-access-result of a failed block (wrapped so `Result` can carry it).
    public struct BlockFailure: Error, Hashable, Sendable {
        public var result: DataAccessResult
        public init(_ result: DataAccessResult) { self.result = result }
    }

    /// The invoke-id-and-priority byte a client sends: invoke id in the low 4 bits, service class
    /// confirmed (0x40) and high priority (0x80), as Gurux and most meters use (C1 for id 1).
    /// Every `invokeID` in this enum is that whole byte, kept as sent; answers match on the low 4 bits.
    public static func invokeIDAndPriority(_ id: UInt8) -> UInt8 { 0xC0 | (id & 0x0F) }

    public var encoded: [UInt8] {
        var w = ByteWriter(capacity: 32)
        switch self {
        case .getRequestNormal(let id, let attribute, let access):
            w.raw([0xC0, 0x01, id])
            Self.write(attribute, to: &w)
            Self.write(access, to: &w)
        case .getRequestNext(let id, let block):
            w.raw([0xC0, 0x02, id])
            w.bigEndian(block)
        case .getResponseNormal(let id, let result):
            w.raw([0xC4, 0x01, id])
            Self.write(result, to: &w)
        case .getResponseBlock(let id, let last, let block, let raw):
            w.raw([0xC4, 0x02, id, last ? 1 : 0])
            w.bigEndian(block)
            switch raw {
            case .success(let bytes):
                w.u8(0)
                AXDRLength.write(bytes.count, to: &w)
                w.raw(bytes)
            case .failure(let f):
                w.raw([1, f.result])
            }
        case .setRequestNormal(let id, let attribute, let access, let value):
            w.raw([0xC1, 0x01, id])
            Self.write(attribute, to: &w)
            Self.write(access, to: &w)
            DLMSDataCodec.encode(value, to: &w)
        case .setResponseNormal(let id, let result):
            w.raw([0xC5, 0x01, id, result])
        case .actionRequestNormal(let id, let method, let parameters):
            w.raw([0xC3, 0x01, id])
            w.bigEndian(method.classID)
            w.raw(method.logicalName.bytes)
            w.bigEndian(method.method)
            if let parameters {
                w.u8(1)
                DLMSDataCodec.encode(parameters, to: &w)
            } else {
                w.u8(0)
            }
        case .actionResponseNormal(let id, let result, let returned):
            w.raw([0xC7, 0x01, id, result])
            if let returned {
                w.u8(1)
                Self.write(returned, to: &w)
            } else {
                w.u8(0)
            }
        case .exceptionResponse(let state, let service):
            w.raw([0xD8, state, service])
        case .confirmedServiceError(let service, let kind, let value):
            w.raw([0x0E, service, kind, value])
        }
        return w.bytes
    }

    private static func write(_ attribute: COSEMAttribute, to w: inout ByteWriter) {
        w.bigEndian(attribute.classID)
        w.raw(attribute.logicalName.bytes)
        w.bigEndian(attribute.attribute)
    }

    private static func write(_ access: SelectiveAccess?, to w: inout ByteWriter) {
        guard let access else { return w.u8(0) }
        w.raw([1, access.selector])
        DLMSDataCodec.encode(access.parameters, to: &w)
    }

    private static func write(_ result: GetResult, to w: inout ByteWriter) {
        switch result {
        case .data(let d):
            w.u8(0)
            DLMSDataCodec.encode(d, to: &w)
        case .failure(let code):
            w.raw([1, code])
        }
    }

    /// Decodes one plain (unciphered) xDLMS APDU of the kinds above. Trailing bytes are malformed.
    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> XDLMSAPDU {
        var r = ByteReader(bytes)
        let tag = try r.u8("APDU tag")
        let apdu: XDLMSAPDU
        switch tag {
        case 0xD8:
            apdu = .exceptionResponse(stateError: try r.u8("state-error"), serviceError: try r.u8("service-error"))
            if r.remaining == 4 { _ = try r.bigEndian(UInt32.self, "invocation-counter") }
        case 0x0E:
            apdu = .confirmedServiceError(service: try r.u8("confirmed service"), kind: try r.u8("service-error kind"),
                                          value: try r.u8("service-error value"))
        default:
            let subtype = try r.u8("request/response type")
            let id = try r.u8("invoke-id-and-priority")
            switch (tag, subtype) {
            case (0xC0, 1):
                apdu = .getRequestNormal(invokeID: id, attribute: try readAttribute(&r), access: try readAccess(&r))
            case (0xC0, 2):
                apdu = .getRequestNext(invokeID: id, block: try r.bigEndian(UInt32.self, "block-number"))
            case (0xC4, 1):
                apdu = .getResponseNormal(invokeID: id, result: try readGetResult(&r))
            case (0xC4, 2):
                let last = try r.u8("last-block") != 0
                let block = try r.bigEndian(UInt32.self, "block-number")
                let choice = try r.u8("raw-data choice")
                switch choice {
                case 0:
                    let n = try AXDRLength.read(&r, "raw-data")
                    apdu = .getResponseBlock(invokeID: id, last: last, block: block, raw: .success(try r.raw(n, "raw-data")))
                case 1:
                    apdu = .getResponseBlock(invokeID: id, last: last, block: block,
                                             raw: .failure(BlockFailure(try r.u8("data-access-result"))))
                default:
                    throw ByteFormatError("data block result choice \(choice)", at: r.offset - 1)
                }
            case (0xC1, 1):
                let attribute = try readAttribute(&r)
                let access = try readAccess(&r)
                apdu = .setRequestNormal(invokeID: id, attribute: attribute, access: access, value: try DLMSDataCodec.decode(&r))
            case (0xC5, 1):
                apdu = .setResponseNormal(invokeID: id, result: try r.u8("data-access-result"))
            case (0xC3, 1):
                let classID = try r.bigEndian(UInt16.self, "class-id")
                let name = COSEMLogicalName(try r.raw(6, "logical name"))
                let method = try r.bigEndian(Int8.self, "method-id")
                let present = try r.u8("parameters flag")
                let parameters = present == 0 ? nil : try DLMSDataCodec.decode(&r)
                apdu = .actionRequestNormal(invokeID: id, method: COSEMMethod(classID: classID, logicalName: name, method: method),
                                            parameters: parameters)
            case (0xC7, 1):
                let result = try r.u8("action-result")
                let present = try r.u8("return-parameters flag")
                apdu = .actionResponseNormal(invokeID: id, result: result, returned: present == 0 ? nil : try readGetResult(&r))
            default:
                throw ByteFormatError("unsupported APDU \(Hex.encode([tag, subtype]))", at: 0)
            }
        }
        guard r.isAtEnd else { throw r.error("\(r.remaining) bytes after the APDU") }
        return apdu
    }

    private static func readAttribute(_ r: inout ByteReader) throws(ByteFormatError) -> COSEMAttribute {
        let classID = try r.bigEndian(UInt16.self, "class-id")
        let name = COSEMLogicalName(try r.raw(6, "logical name"))
        return COSEMAttribute(classID: classID, logicalName: name, attribute: try r.bigEndian(Int8.self, "attribute-id"))
    }

    private static func readAccess(_ r: inout ByteReader) throws(ByteFormatError) -> SelectiveAccess? {
        guard try r.u8("access-selection flag") != 0 else { return nil }
        let selector = try r.u8("access-selector")
        return SelectiveAccess(selector: selector, parameters: try DLMSDataCodec.decode(&r))
    }

    private static func readGetResult(_ r: inout ByteReader) throws(ByteFormatError) -> GetResult {
        let at = r.offset
        switch try r.u8("get-data-result choice") {
        case 0: return .data(try DLMSDataCodec.decode(&r))
        case 1: return .failure(try r.u8("data-access-result"))
        default: throw ByteFormatError("get-data-result choice (expected 0 or 1)", at: at)
        }
    }
}
