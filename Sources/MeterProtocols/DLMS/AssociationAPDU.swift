import ConcentratorCore

/// The application context names (Green Book §9.4.2.2.1, 2.16.756.5.8.1.N).
public enum DLMSApplicationContext: UInt8, Hashable, Sendable {
    case logicalName = 1
    case logicalNameCiphered = 3
}

/// The result of an association request, from the AARE (Green Book §9.4.2.2).
public enum AssociationResult: Hashable, Sendable {
    case accepted
    /// Rejected; `diagnostic` is the acse-service-user diagnostic (1 no reason, 2 application
    /// context not supported, 13 authentication failure, 14 authentication required, …), or the
    /// service-provider one with `fromProvider`.
    case rejected(permanent: Bool, diagnostic: UInt8, fromProvider: Bool)
}

/// AARQ (A-Associate request), BER encoded (Green Book §9.4.2 and its example "AARQ"):
/// application-context-name [A1], calling-AP-title [A6] (the client's system title, ciphered
/// contexts only), sender-acse-requirements [8A], mechanism-name [8B],
/// calling-authentication-value [AC] (the LLS password or the HLS challenge CtoS) and
/// user-information [BE] holding the InitiateRequest, plain or as glo-initiateRequest (tag 0x21).
public struct AARQ: Hashable, Sendable {
    public var context: DLMSApplicationContext
    public var mechanism: DLMSMechanism
    public var callingAPTitle: [UInt8]?
    /// Password (LLS) or CtoS challenge (HLS). A secret for LLS: never logged.
    public var authenticationValue: [UInt8]?
    /// The InitiateRequest bytes, or the ciphered glo-initiateRequest APDU.
    public var userInformation: [UInt8]

    public init(context: DLMSApplicationContext, mechanism: DLMSMechanism, callingAPTitle: [UInt8]? = nil,
                authenticationValue: [UInt8]? = nil, userInformation: [UInt8]) {
        self.context = context
        self.mechanism = mechanism
        self.callingAPTitle = callingAPTitle
        self.authenticationValue = authenticationValue
        self.userInformation = userInformation
    }

    public var encoded: [UInt8] {
        var body: [UInt8] = BER.tlv(0xA1, BER.tlv(0x06, [0x60, 0x85, 0x74, 0x05, 0x08, 0x01, context.rawValue]))
        if let title = callingAPTitle { body += BER.tlv(0xA6, BER.tlv(0x04, title)) }
        if mechanism != .none {
            body += [0x8A, 0x02, 0x07, 0x80]
            body += BER.tlv(0x8B, [0x60, 0x85, 0x74, 0x05, 0x08, 0x02, mechanism.rawValue])
        }
        if let value = authenticationValue { body += BER.tlv(0xAC, BER.tlv(0x80, value)) }
        body += BER.tlv(0xBE, BER.tlv(0x04, userInformation))
        return BER.tlv(0x60, body)
    }

    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> AARQ {
        let fields = try BER.fields(of: bytes, tag: 0x60, what: "AARQ")
        guard let contextField = fields[0xA1] else { throw ByteFormatError("AARQ without application-context-name", at: 0) }
        let context = try BER.applicationContext(contextField)
        var mechanism = DLMSMechanism.none
        if let m = fields[0x8B] {
            guard m.count == 7, m.prefix(6) == [0x60, 0x85, 0x74, 0x05, 0x08, 0x02], let known = DLMSMechanism(rawValue: m[6]) else {
                throw ByteFormatError("unsupported mechanism-name \(Hex.encode(m))", at: 0)
            }
            mechanism = known
        }
        let title = try fields[0xA6].map { v throws(ByteFormatError) in try BER.inner(v, tag: 0x04, what: "calling-AP-title") }
        let auth = try fields[0xAC].map { v throws(ByteFormatError) in try BER.inner(v, tag: 0x80, what: "calling-authentication-value") }
        guard let ui = fields[0xBE] else { throw ByteFormatError("AARQ without user-information", at: 0) }
        return AARQ(context: context, mechanism: mechanism, callingAPTitle: title, authenticationValue: auth,
                    userInformation: try BER.inner(ui, tag: 0x04, what: "user-information"))
    }
}

/// AARE (A-Associate response): application-context-name [A1], result [A2],
/// result-source-diagnostic [A3], responding-AP-title [A4] (the server's system title),
/// mechanism-name [89], responding-authentication-value [AA] (the HLS challenge StoC) and
/// user-information [BE] (InitiateResponse, glo-initiateResponse 0x28, or a confirmed-service-error).
public struct AARE: Hashable, Sendable {
    public var context: DLMSApplicationContext
    public var result: AssociationResult
    public var respondingAPTitle: [UInt8]?
    public var mechanism: DLMSMechanism?
    public var authenticationValue: [UInt8]?
    public var userInformation: [UInt8]?

    public init(context: DLMSApplicationContext, result: AssociationResult, respondingAPTitle: [UInt8]? = nil,
                mechanism: DLMSMechanism? = nil, authenticationValue: [UInt8]? = nil, userInformation: [UInt8]?) {
        self.context = context
        self.result = result
        self.respondingAPTitle = respondingAPTitle
        self.mechanism = mechanism
        self.authenticationValue = authenticationValue
        self.userInformation = userInformation
    }

    public var encoded: [UInt8] {
        var body: [UInt8] = BER.tlv(0xA1, BER.tlv(0x06, [0x60, 0x85, 0x74, 0x05, 0x08, 0x01, context.rawValue]))
        switch result {
        case .accepted:
            body += [0xA2, 0x03, 0x02, 0x01, 0x00, 0xA3, 0x05, 0xA1, 0x03, 0x02, 0x01, 0x00]
        case .rejected(let permanent, let diagnostic, let provider):
            body += [0xA2, 0x03, 0x02, 0x01, permanent ? 1 : 2, 0xA3, 0x05, provider ? 0xA2 : 0xA1, 0x03, 0x02, 0x01, diagnostic]
        }
        if let title = respondingAPTitle { body += BER.tlv(0xA4, BER.tlv(0x04, title)) }
        if let mechanism {
            if mechanism != .none { body += [0x88, 0x02, 0x07, 0x80] }
            body += BER.tlv(0x89, [0x60, 0x85, 0x74, 0x05, 0x08, 0x02, mechanism.rawValue])
        }
        if let value = authenticationValue { body += BER.tlv(0xAA, BER.tlv(0x80, value)) }
        if let ui = userInformation { body += BER.tlv(0xBE, BER.tlv(0x04, ui)) }
        return BER.tlv(0x61, body)
    }

    public static func decode(_ bytes: [UInt8]) throws(ByteFormatError) -> AARE {
        let fields = try BER.fields(of: bytes, tag: 0x61, what: "AARE")
        guard let contextField = fields[0xA1] else { throw ByteFormatError("AARE without application-context-name", at: 0) }
        let context = try BER.applicationContext(contextField)
        guard let resultField = fields[0xA2] else { throw ByteFormatError("AARE without result", at: 0) }
        let resultValue = try BER.integer(try BER.inner(resultField, tag: 0x02, what: "result"))
        var diagnostic: UInt8 = 0
        var provider = false
        if let d = fields[0xA3], let first = d.first {
            provider = first == 0xA2
            let inner = try BER.inner(d, tag: first, what: "result-source-diagnostic")
            diagnostic = try BER.integer(try BER.inner(inner, tag: 0x02, what: "diagnostic"))
        }
        let result: AssociationResult = resultValue == 0
            ? .accepted : .rejected(permanent: resultValue == 1, diagnostic: diagnostic, fromProvider: provider)
        var mechanism: DLMSMechanism?
        if let m = fields[0x89] {
            guard m.count == 7, let known = DLMSMechanism(rawValue: m[6]) else {
                throw ByteFormatError("unsupported mechanism-name \(Hex.encode(m))", at: 0)
            }
            mechanism = known
        }
        let title = try fields[0xA4].map { v throws(ByteFormatError) in try BER.inner(v, tag: 0x04, what: "responding-AP-title") }
        let auth = try fields[0xAA].map { v throws(ByteFormatError) in try BER.inner(v, tag: 0x80, what: "responding-authentication-value") }
        let ui = try fields[0xBE].map { v throws(ByteFormatError) in try BER.inner(v, tag: 0x04, what: "user-information") }
        return AARE(context: context, result: result, respondingAPTitle: title, mechanism: mechanism,
                    authenticationValue: auth, userInformation: ui)
    }
}

/// RLRQ / RLRE (release request and response) with reason 0 (normal); any user-information is ignored.
public enum ReleaseAPDU {
    public static let request: [UInt8] = [0x62, 0x03, 0x80, 0x01, 0x00]
    public static let response: [UInt8] = [0x63, 0x03, 0x80, 0x01, 0x00]

    /// Whether `bytes` is a well-formed RLRE (tag 63).
    public static func isResponse(_ bytes: [UInt8]) -> Bool { (try? BER.fields(of: bytes, tag: 0x63, what: "RLRE")) != nil }
    /// Whether `bytes` is a well-formed RLRQ (tag 62).
    public static func isRequest(_ bytes: [UInt8]) -> Bool { (try? BER.fields(of: bytes, tag: 0x62, what: "RLRQ")) != nil }
}

/// The few BER helpers the ACSE APDUs need (definite lengths only).
enum BER {
    static func tlv(_ tag: UInt8, _ value: [UInt8]) -> [UInt8] { [tag] + AXDRLength.encode(value.count) + value }

    /// The top-level fields inside a constructed APDU, by tag (the last one wins).
    static func fields(of bytes: [UInt8], tag: UInt8, what: String) throws(ByteFormatError) -> [UInt8: [UInt8]] {
        var r = ByteReader(bytes)
        guard try r.u8("\(what) tag") == tag else { throw ByteFormatError("not an \(what) (tag \(Hex.encode([tag])))", at: 0) }
        let length = try AXDRLength.read(&r, what)
        guard length == r.remaining else { throw ByteFormatError("\(what) length \(length) does not match \(r.remaining) bytes", at: 1) }
        var out: [UInt8: [UInt8]] = [:]
        while !r.isAtEnd {
            let t = try r.u8("field tag")
            let n = try AXDRLength.read(&r, "field \(Hex.encode([t]))")
            out[t] = try r.raw(n, "field \(Hex.encode([t]))")
        }
        return out
    }

    /// The value of a single TLV that must fill `bytes`.
    static func inner(_ bytes: [UInt8], tag: UInt8, what: String) throws(ByteFormatError) -> [UInt8] {
        var r = ByteReader(bytes)
        guard try r.u8("\(what) tag") == tag else { throw ByteFormatError("\(what): expected tag \(Hex.encode([tag]))", at: 0) }
        let n = try AXDRLength.read(&r, what)
        let v = try r.raw(n, what)
        guard r.isAtEnd else { throw r.error("\(what): bytes after the value") }
        return v
    }

    static func integer(_ bytes: [UInt8]) throws(ByteFormatError) -> UInt8 {
        guard bytes.count == 1 else { throw ByteFormatError("integer of \(bytes.count) bytes (expected 1)", at: 0) }
        return bytes[0]
    }

    static func applicationContext(_ field: [UInt8]) throws(ByteFormatError) -> DLMSApplicationContext {
        let oid = try inner(field, tag: 0x06, what: "application-context-name")
        guard oid.count == 7, oid.prefix(6) == [0x60, 0x85, 0x74, 0x05, 0x08, 0x01],
              let context = DLMSApplicationContext(rawValue: oid[6]) else {
            throw ByteFormatError("application context \(Hex.encode(oid)) (supported: logical name, logical name ciphered)", at: 0)
        }
        return context
    }
}
