import ConcentratorCore

/// How a client authenticates to one meter. The password and the keys are secrets: the
/// description names only the level.
public enum DLMSClientSecurity: Hashable, Sendable, CustomStringConvertible {
    /// No authentication (the public client, usually client address 16).
    case none
    /// Low-level security: a password sent in the AARQ.
    case lowLevel(password: [UInt8])
    /// High-level security with GMAC (mechanism 5) and security suite 0: every xDLMS APDU after
    /// the AARQ is ciphered (authenticated and encrypted, SC 0x30) with `keys`.
    case highLevelGMAC(keys: DLMSSecurityKeys, clientSystemTitle: [UInt8])

    public var description: String {
        switch self {
        case .none: return "none"
        case .lowLevel: return "lls"
        case .highLevelGMAC: return "hls-gmac"
        }
    }
}

/// Everything a DLMS client needs to talk to one meter over HDLC.
public struct DLMSClientSettings: Hashable, Sendable {
    public var clientAddress: UInt8
    public var serverAddress: HDLCAddress
    public var security: DLMSClientSecurity
    /// What the client proposes in its SNRM (its own view: transmit = client to meter).
    public var hdlc: HDLCParameters
    /// The client's max receive PDU size, proposed in the InitiateRequest.
    public var maxReceivePDUSize: UInt16
    /// The conformance block proposed in the InitiateRequest.
    public var proposedConformance: UInt32
    /// Line settings to switch to before the first frame (nil: leave the line as it is).
    public var line: LineSettings?
    /// Reaction and inter-character timeouts for every answer.
    public var wait: AnswerWait
    /// How often a lost or garbled answer is asked for again (an RR poll or the frame repeated).
    public var retries: Int

    public init(clientAddress: UInt8 = 16, serverAddress: HDLCAddress, security: DLMSClientSecurity = .none,
                hdlc: HDLCParameters = .defaults, maxReceivePDUSize: UInt16 = 1024,
                proposedConformance: UInt32 = DLMSConformance.client, line: LineSettings? = nil,
                wait: AnswerWait = AnswerWait(firstByteWithin: .seconds(1), interCharacterGap: .milliseconds(100)),
                retries: Int = 1) {
        self.clientAddress = clientAddress
        self.serverAddress = serverAddress
        self.security = security
        self.hdlc = hdlc
        self.maxReceivePDUSize = maxReceivePDUSize
        self.proposedConformance = proposedConformance
        self.line = line
        self.wait = wait
        self.retries = retries
    }
}

/// The ciphering state of an HLS association: system titles and invocation counters.
public struct DLMSCipherState: Hashable, Sendable, CustomStringConvertible {
    public var keys: DLMSSecurityKeys
    public var clientSystemTitle: [UInt8]
    /// Learnt from the AARE's responding-AP-title.
    public var serverSystemTitle: [UInt8]?
    /// The next invocation counter this client will use.
    public internal(set) var nextInvocationCounter: UInt32
    /// The last counter the caller has made durable as used; the client never goes beyond it.
    public internal(set) var reservedThrough: UInt32
    /// The highest counter accepted from the meter (replay check).
    public internal(set) var lastServerInvocationCounter: UInt32?

    public var description: String {
        "cipher(next IC \(nextInvocationCounter), reserved through \(reservedThrough))"
    }
}

/// The state of one meter's link and association, carried from session to session: the HDLC
/// sequence numbers and negotiated sizes, the association's PDU size and conformance, and for HLS
/// the ciphering state with its invocation counters. Every DLMS session takes one and its outcome
/// returns the updated one (`DLMSSession.association` also holds it after a failure).
public struct DLMSAssociation: Hashable, Sendable {
    public let settings: DLMSClientSettings
    /// The values in force after SNRM/UA (client view).
    public internal(set) var negotiated = HDLCParameters.defaults
    public internal(set) var linkConnected = false
    public internal(set) var associated = false
    public internal(set) var serverMaxPDUSize: UInt16 = 0
    public internal(set) var conformance: UInt32 = 0
    public internal(set) var cipher: DLMSCipherState?
    var sendSequence: UInt8 = 0
    var receiveSequence: UInt8 = 0
    var invokeCounter: UInt8 = 0

    /// A fresh, unconnected association. For HLS, `invocationCounters` is the range of counters the
    /// caller has already made durable as used (persist first, then pass): the client takes them in
    /// order and never uses one outside the range. Ignored for other security levels.
    public init(settings: DLMSClientSettings, invocationCounters: ClosedRange<UInt32> = 1...1) {
        self.settings = settings
        if case .highLevelGMAC(let keys, let title) = settings.security {
            cipher = DLMSCipherState(keys: keys, clientSystemTitle: title, serverSystemTitle: nil,
                                     nextInvocationCounter: invocationCounters.lowerBound,
                                     reservedThrough: invocationCounters.upperBound, lastServerInvocationCounter: nil)
        }
    }

    public var clientAddress: HDLCAddress { .client(settings.clientAddress) }

    /// Grants more invocation counters after the caller made `upperBound` durable.
    public mutating func extendReservation(through upperBound: UInt32) {
        guard var c = cipher, upperBound > c.reservedThrough else { return }
        c.reservedThrough = upperBound
        cipher = c
    }

    /// The next invoke-id-and-priority byte (ids 1…15, cycling).
    mutating func nextInvokeID() -> UInt8 {
        invokeCounter = invokeCounter % 15 + 1
        return XDLMSAPDU.invokeIDAndPriority(invokeCounter)
    }

    /// Takes the next reserved invocation counter.
    mutating func takeInvocationCounter() throws(MeterSessionError) -> UInt32 {
        guard var c = cipher else { throw MeterSessionError(.security, "no ciphering state on this association") }
        guard c.nextInvocationCounter <= c.reservedThrough, c.nextInvocationCounter != UInt32.max else {
            throw MeterSessionError(.security, "invocation counters used up to the reservation \(c.reservedThrough); persist a new reservation and extend it")
        }
        let ic = c.nextInvocationCounter
        c.nextInvocationCounter += 1
        cipher = c
        return ic
    }

    /// Protects a plain xDLMS APDU with glo-ciphering (SC 0x30) when this association ciphers;
    /// returns it unchanged otherwise or when there is no glo form of it (AARQ, RLRQ).
    mutating func protect(_ apdu: [UInt8]) throws(MeterSessionError) -> [UInt8] {
        guard let c = cipher, let first = apdu.first, let tag = CipheredAPDU.gloTag(for: first) else { return apdu }
        let ic = try takeInvocationCounter()
        do {
            let secured = try SecuritySuite0.protect(apdu, securityControl: .authenticatedAndEncrypted,
                                                     systemTitle: c.clientSystemTitle, invocationCounter: ic, keys: c.keys)
            return [tag] + AXDRLength.encode(secured.count) + secured
        } catch {
            throw MeterSessionError(.security, "cannot cipher: \(error)")
        }
    }

    /// Opens a ciphered answer (checking the meter's invocation counter for replay) or passes a
    /// plain one. A ciphering association accepts plain exception and confirmed-service-error
    /// APDUs only.
    mutating func unprotect(_ apdu: [UInt8]) throws(MeterSessionError) -> [UInt8] {
        guard let first = apdu.first else { throw MeterSessionError(.malformed, "empty APDU") }
        guard CipheredAPDU.isCiphered(first) else {
            if cipher != nil, [0xC4, 0xC5, 0xC7].contains(first) {
                throw MeterSessionError(.security, "the meter answered in the clear on a ciphered association")
            }
            return apdu
        }
        guard var c = cipher else { throw MeterSessionError(.malformed, "ciphered answer on an association without security") }
        let ciphered: CipheredAPDU
        do { ciphered = try CipheredAPDU.decode(apdu) } catch {
            throw MeterSessionError(.malformed, "ciphered APDU: \(error)")
        }
        guard let title = ciphered.systemTitle ?? c.serverSystemTitle else {
            throw MeterSessionError(.security, "ciphered answer before the meter's system title is known")
        }
        if let last = c.lastServerInvocationCounter, ciphered.invocationCounter <= last {
            throw MeterSessionError(.security, "\(DLMSSecurityError.replayedInvocationCounter(received: ciphered.invocationCounter, last: last))")
        }
        do {
            let opened = try SecuritySuite0.open(ciphered.securedContent, systemTitle: title, keys: c.keys)
            c.lastServerInvocationCounter = ciphered.invocationCounter
            cipher = c
            return opened.apdu
        } catch {
            throw MeterSessionError(.security, "cannot open the meter's answer: \(error)")
        }
    }
}
