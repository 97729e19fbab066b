import ConcentratorCore
import MeterProtocols

/// The secrets a simulated DLMS meter holds: the LLS password and the suite 0 keys (either may be
/// absent), and its own system title.
public struct DLMSMeterSecrets: Hashable, Sendable, CustomStringConvertible {
    public var password: [UInt8]?
    public var keys: DLMSSecurityKeys?
    public var systemTitle: [UInt8]

    public init(password: [UInt8]? = nil, keys: DLMSSecurityKeys? = nil, systemTitle: [UInt8]) {
        self.password = password
        self.keys = keys
        self.systemTitle = systemTitle
    }

    /// The system title the simulator gives a meter: "SIM" and the address, as 8 bytes.
    public static func defaultSystemTitle(address: UInt16) -> [UInt8] {
        [0x53, 0x49, 0x4D, 0x00, 0x00, 0x00, UInt8(address >> 8), UInt8(address & 0xFF)]
    }

    public var description: String { "secrets(password: \(password == nil ? "no" : "yes"), keys: \(keys == nil ? "no" : "yes"))" }
}

/// How a simulated DLMS meter behaves on the link.
public struct DLMSMeterLimits: Hashable, Sendable {
    /// The meter's HDLC limits (its view: transmit = meter to client). A small `maxInfoTransmit`
    /// makes it segment its answers.
    public var hdlc: HDLCParameters
    /// The meter's max receive PDU size; GET answers longer than the smaller of this and the
    /// client's go with-datablock.
    public var maxPDUSize: Int

    public init(hdlc: HDLCParameters = HDLCParameters(maxInfoTransmit: 128, maxInfoReceive: 128, windowTransmit: 1, windowReceive: 1),
                maxPDUSize: Int = 512) {
        self.hdlc = hdlc
        self.maxPDUSize = maxPDUSize
    }

    /// The same information field size and window in both directions.
    public init(maxInfo: Int, window: Int, maxPDUSize: Int) {
        self.init(hdlc: HDLCParameters(maxInfoTransmit: maxInfo, maxInfoReceive: maxInfo, windowTransmit: window, windowReceive: window),
                  maxPDUSize: maxPDUSize)
    }
}

/// What the meter sends back for one received frame, and what it served.
struct DLMSServerAnswer {
    /// Nil: silent.
    var bytes: [UInt8]?
    var record: ServedRecord?
}

/// The server side of one simulated DLMS/COSEM meter over HDLC: link (SNRM/UA, I/RR with sequence
/// numbers, segmentation both ways, DISC/DM), association (AARQ/AARE for no security, LLS and
/// HLS-GMAC with security suite 0, RLRQ/RLRE) and the xDLMS services (GET with block transfer,
/// SET, ACTION) on `DLMSMeterObjects`. Bytes of one frame in, bytes out: testable without a PTY.
///
/// Every client invocation counter it sees is recorded in `seenInvocationCounters`; a counter not
/// above the last one is refused as a replay (exception-response, invocation-counter-error) and
/// counted in `replays`.
struct DLMSMeterServer {
    let address: HDLCAddress
    let secrets: DLMSMeterSecrets
    let limits: DLMSMeterLimits
    var objects: DLMSMeterObjects
    private(set) var seenInvocationCounters: [UInt32] = []
    private(set) var replays = 0
    /// The highest client invocation counter accepted, kept across associations as a meter keeps it.
    private(set) var lastClientInvocationCounter: UInt32?

    // Link.
    private var linkUp = false
    private var params = HDLCParameters.defaults
    private var vs: UInt8 = 0
    private var vr: UInt8 = 0
    private var clientAddress = HDLCAddress.client(16)
    private var incoming: [UInt8] = []
    private var pending: [HDLCFrame] = []
    private var lastSent: [UInt8] = []

    // Association.
    var session = DLMSServerSession()
    private var challengeSource: SeededRandom
    private var serverInvocationCounter: UInt32 = 1

    /// The next invocation counter of the meter's own ciphered APDUs and HLS answers.
    mutating func takeServerInvocationCounter() -> UInt32 {
        defer { serverInvocationCounter += 1 }
        return serverInvocationCounter
    }
    var blocks: (invokeID: UInt8, chunks: [[UInt8]], sent: Int)?

    init(address: HDLCAddress, secrets: DLMSMeterSecrets, limits: DLMSMeterLimits, objects: DLMSMeterObjects, seed: UInt64) {
        self.address = address
        self.secrets = secrets
        self.limits = limits
        self.objects = objects
        challengeSource = SeededRandom(seed: SeededRandom.mix(seed ^ 0xC4A11))
    }

    var isAssociated: Bool { session.associated }

    /// Answers one complete frame (flags included) received at `time`, under `fault`.
    mutating func handle(_ bytes: [UInt8], at time: Timestamp, fault: MeterFault) -> DLMSServerAnswer {
        guard let frame = try? HDLCFrame.decode(bytes) else { return DLMSServerAnswer(bytes: nil, record: nil) }
        guard frame.destination.upper == address.upper, frame.destination.lower == address.lower else {
            return DLMSServerAnswer(bytes: nil, record: nil)
        }
        if fault == .silence { return DLMSServerAnswer(bytes: nil, record: ServedRecord(time: time, slave: slave, function: 0, fault: "silence")) }
        var record: ServedRecord?
        var reply: [HDLCFrame] = []
        switch frame.control {
        case .setNormalResponseMode:
            let proposal = (try? HDLCParameters.decode(frame.information)) ?? .defaults
            params = HDLCParameters.serverAnswer(to: proposal, limits: limits.hdlc)
            linkUp = true
            vs = 0
            vr = 0
            clientAddress = frame.source
            incoming = []
            pending = []
            blocks = nil
            session = DLMSServerSession()
            reply = [link(.unnumberedAcknowledge, info: params.encoded)]
        case .disconnect:
            reply = [link(linkUp ? .unnumberedAcknowledge : .disconnectedMode)]
            linkUp = false
            session = DLMSServerSession()
        case .receiveReady(let nr, _):
            guard linkUp else { reply = [link(.disconnectedMode)]; break }
            if !pending.isEmpty, nr == vs {
                reply = takeWindow()
            } else if nr != vs, !lastSent.isEmpty {
                return answer(lastSent, fault: fault, record: nil)
            } else {
                reply = [link(.receiveReady(receive: vr, final: true))]
            }
        case .information(let ns, _, _):
            guard linkUp else { reply = [link(.disconnectedMode)]; break }
            guard ns == vr else {
                // A repeat of a request we answered: the client lost our answer.
                return lastSent.isEmpty ? DLMSServerAnswer(bytes: nil, record: nil) : answer(lastSent, fault: fault, record: nil)
            }
            vr = (vr + 1) & 7
            incoming += frame.information
            if frame.segmented {
                reply = [link(.receiveReady(receive: vr, final: true))]
                break
            }
            let request = incoming
            incoming = []
            guard request.count >= 3, request[0] == 0xE6, request[1] == 0xE6, request[2] == 0x00 else {
                reply = [link(.frameReject)]
                break
            }
            if fault == .dropAssociation, session.profileBlocksServed > 0 {
                // The meter loses the association in the middle of a profile transfer.
                linkUp = false
                session = DLMSServerSession()
                reply = [link(.disconnectedMode)]
                record = ServedRecord(time: time, slave: slave, function: 0, fault: fault.description)
                break
            }
            var served = ServedRecord(time: time, slave: slave, function: request.count > 3 ? request[3] : 0)
            let apdu = respond(to: Array(request[3...]), at: time, fault: fault, record: &served)
            if fault != .none { served.fault = fault.description }
            record = served
            segment([0xE6, 0xE7, 0x00] + apdu)
            reply = takeWindow()
        default:
            return DLMSServerAnswer(bytes: nil, record: nil)
        }
        let bytes = reply.flatMap { $0.encoded() }
        lastSent = bytes
        return answer(bytes, fault: fault, record: record)
    }

    private var slave: UInt8 { UInt8(truncatingIfNeeded: address.lower ?? address.upper) }

    private func link(_ control: HDLCControl, info: [UInt8] = []) -> HDLCFrame {
        HDLCFrame(destination: clientAddress, source: address, control: control, information: info)
    }

    private func answer(_ bytes: [UInt8], fault: MeterFault, record: ServedRecord?) -> DLMSServerAnswer {
        var wire = bytes
        switch fault {
        case .badCRC where wire.count > 3:
            wire[wire.count - 2] ^= 0xFF // the closing FCS byte
        case .garbage:
            wire = wire.enumerated().map { i, b in UInt8(truncatingIfNeeded: Int(b) &* 31 &+ i &* 17) }
        default:
            break
        }
        return DLMSServerAnswer(bytes: wire, record: record)
    }

    /// Splits an answer into I frames of the negotiated size.
    private mutating func segment(_ information: [UInt8]) {
        let size = max(1, params.maxInfoTransmit)
        var offset = 0
        pending = []
        repeat {
            let end = min(information.count, offset + size)
            pending.append(HDLCFrame(destination: clientAddress, source: address, control: .information(send: 0, receive: 0, final: true),
                                     segmented: end < information.count, information: Array(information[offset..<end])))
            offset = end
        } while offset < information.count
    }

    /// The next window of pending frames, numbered now; the last one carries the final bit.
    private mutating func takeWindow() -> [HDLCFrame] {
        let count = min(max(1, params.windowTransmit), pending.count)
        var out: [HDLCFrame] = []
        for i in 0..<count {
            var f = pending.removeFirst()
            f.control = .information(send: vs, receive: vr, final: i == count - 1)
            vs = (vs + 1) & 7
            out.append(f)
        }
        return out
    }

    // MARK: - APDUs

    private mutating func respond(to apdu: [UInt8], at time: Timestamp, fault: MeterFault, record: inout ServedRecord) -> [UInt8] {
        guard let tag = apdu.first else { return XDLMSAPDU.exceptionResponse(stateError: 2, serviceError: 3).encoded }
        switch tag {
        case 0x60:
            return associate(apdu, record: &record)
        case 0x62:
            session = DLMSServerSession()
            return ReleaseAPDU.response
        default:
            break
        }
        guard session.associated else { return XDLMSAPDU.exceptionResponse(stateError: 1, serviceError: 1).encoded }
        var plain = apdu
        if session.ciphered {
            guard CipheredAPDU.isCiphered(tag), let ciphered = try? CipheredAPDU.decode(apdu), let keys = secrets.keys,
                  let clientTitle = session.clientSystemTitle else {
                return XDLMSAPDU.exceptionResponse(stateError: 1, serviceError: 5).encoded
            }
            record.invocationCounter = ciphered.invocationCounter
            guard accept(invocationCounter: ciphered.invocationCounter) else {
                return XDLMSAPDU.exceptionResponse(stateError: 1, serviceError: 6).encoded
            }
            guard let opened = try? SecuritySuite0.open(ciphered.securedContent, systemTitle: clientTitle, keys: keys) else {
                return XDLMSAPDU.exceptionResponse(stateError: 1, serviceError: 5).encoded
            }
            plain = opened.apdu
            record.function = plain.first ?? 0
        }
        if case .exception(let code) = fault { return XDLMSAPDU.exceptionResponse(stateError: 1, serviceError: code).encoded }
        let response = service(plain, at: time, record: &record)
        return session.ciphered ? protect(response) : response
    }

    /// Records a counter the client used inside an APDU (f(StoC)), without the replay check.
    mutating func recordInvocationCounter(_ ic: UInt32) { seenInvocationCounters.append(ic) }

    /// Records a client invocation counter; false for a replay (not above the last one).
    private mutating func accept(invocationCounter ic: UInt32) -> Bool {
        seenInvocationCounters.append(ic)
        if let last = lastClientInvocationCounter, ic <= last {
            replays += 1
            return false
        }
        lastClientInvocationCounter = ic
        return true
    }

    private mutating func protect(_ apdu: [UInt8]) -> [UInt8] {
        guard let keys = secrets.keys, let first = apdu.first, let tag = CipheredAPDU.gloTag(for: first),
              let secured = try? SecuritySuite0.protect(apdu, securityControl: .authenticatedAndEncrypted, systemTitle: secrets.systemTitle,
                                                        invocationCounter: takeServerInvocationCounter(), keys: keys) else { return apdu }
        return [tag] + AXDRLength.encode(secured.count) + secured
    }

    private mutating func associate(_ apdu: [UInt8], record: inout ServedRecord) -> [UInt8] {
        session = DLMSServerSession()
        guard let aarq = try? AARQ.decode(apdu) else {
            return AARE(context: .logicalName, result: .rejected(permanent: true, diagnostic: 1, fromProvider: false), userInformation: nil).encoded
        }
        func reject(_ diagnostic: UInt8) -> [UInt8] {
            record.fault = "association-rejected:\(diagnostic)"
            return AARE(context: aarq.context, result: .rejected(permanent: true, diagnostic: diagnostic, fromProvider: false),
                        userInformation: nil).encoded
        }
        var initiateBytes = aarq.userInformation
        switch aarq.mechanism {
        case .none:
            guard clientAddress.upper == 16 else { return reject(14) }
        case .lowLevel:
            guard let password = secrets.password, aarq.authenticationValue == password else { return reject(13) }
        case .highLevelGMAC:
            guard let keys = secrets.keys, aarq.context == .logicalNameCiphered, let title = aarq.callingAPTitle, title.count == 8,
                  let ctos = aarq.authenticationValue, let ciphered = try? CipheredAPDU.decode(aarq.userInformation) else { return reject(13) }
            record.invocationCounter = ciphered.invocationCounter
            guard accept(invocationCounter: ciphered.invocationCounter) else { return reject(13) }
            guard let opened = try? SecuritySuite0.open(ciphered.securedContent, systemTitle: title, keys: keys) else { return reject(13) }
            initiateBytes = opened.apdu
            session.clientSystemTitle = title
            session.clientChallenge = ctos
        }
        guard let initiate = try? InitiateRequest.decode(initiateBytes) else { return reject(1) }
        session.clientMaxPDU = Int(initiate.clientMaxReceivePDUSize == 0 ? 0xFFFF : initiate.clientMaxReceivePDUSize)
        let supported = DLMSConformance.get | DLMSConformance.set | DLMSConformance.action | DLMSConformance.selectiveAccess
            | DLMSConformance.blockTransferWithGet
        let response = InitiateResponse(negotiatedConformance: initiate.proposedConformance & supported,
                                        serverMaxReceivePDUSize: UInt16(limits.maxPDUSize)).encoded
        session.associated = true
        guard aarq.mechanism == .highLevelGMAC else {
            return AARE(context: aarq.context, result: .accepted, mechanism: aarq.mechanism == .none ? nil : aarq.mechanism, userInformation: response).encoded
        }
        session.ciphered = true
        var stoc: [UInt8] = []
        while stoc.count < 16 { stoc.append(UInt8(truncatingIfNeeded: challengeSource.next() % 94 + 33)) }
        session.serverChallenge = stoc
        return AARE(context: .logicalNameCiphered, result: .accepted, respondingAPTitle: secrets.systemTitle, mechanism: .highLevelGMAC,
                    authenticationValue: stoc, userInformation: protect(response)).encoded
    }
}

/// The association state of a simulated meter (reset by SNRM, DISC, RLRQ and a new AARQ).
struct DLMSServerSession {
    var associated = false
    var ciphered = false
    /// HLS pass 3 done: the client proved it holds the keys.
    var authenticated = false
    var clientSystemTitle: [UInt8]?
    var clientChallenge: [UInt8]?
    var serverChallenge: [UInt8]?
    var clientMaxPDU = 0xFFFF
    /// Profile blocks sent in this association (the drop-association fault acts after the first).
    var profileBlocksServed = 0
}
