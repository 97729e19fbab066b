import ConcentratorCore

/// Opens the link and the association: SNRM/UA, AARQ/AARE and, for HLS-GMAC, the challenge
/// exchange (Green Book §9.2.7.4, HLS passes 3 and 4): the client answers the meter's challenge
/// StoC with f(StoC) through the reply_to_HLS_authentication method (class 15, method 1) of the
/// current association 0-0:40.0.0.255 and checks the meter's f(CtoS) in the answer.
///
/// `challenge` is CtoS for HLS (8–64 random bytes the caller draws; pure code never invents one);
/// it is not used for the other levels. The outcome is the associated `DLMSAssociation`.
public struct DLMSAssociateConversation: DLMSConversation {
    public typealias Outcome = DLMSAssociation
    private let challenge: [UInt8]
    private var awaitingHLSReply = false

    public init(challenge: [UInt8] = []) { self.challenge = challenge }

    public mutating func begin(_ a: inout DLMSAssociation) -> DLMSStep<DLMSAssociation> {
        a.associated = false
        return .connectLink
    }

    public mutating func link(_ event: DLMSLinkEvent, _ a: inout DLMSAssociation) -> DLMSStep<DLMSAssociation> {
        guard event == .connected else { return .fail(MeterSessionError(.aborted, "link closed during association")) }
        let initiate = InitiateRequest(proposedConformance: a.settings.proposedConformance, clientMaxReceivePDUSize: a.settings.maxReceivePDUSize).encoded
        switch a.settings.security {
        case .none:
            return .send(AARQ(context: .logicalName, mechanism: .none, userInformation: initiate).encoded)
        case .lowLevel(let password):
            return .send(AARQ(context: .logicalName, mechanism: .lowLevel, authenticationValue: password, userInformation: initiate).encoded)
        case .highLevelGMAC(_, let title):
            guard (8...64).contains(challenge.count) else {
                return .fail(MeterSessionError(.security, "HLS needs a client challenge of 8–64 bytes, got \(challenge.count)"))
            }
            let ciphered: [UInt8]
            do { ciphered = try a.protect(initiate) } catch { return .fail(error) }
            return .send(AARQ(context: .logicalNameCiphered, mechanism: .highLevelGMAC, callingAPTitle: title,
                              authenticationValue: challenge, userInformation: ciphered).encoded)
        }
    }

    public mutating func answer(_ apdu: [UInt8], _ a: inout DLMSAssociation) -> DLMSStep<DLMSAssociation> {
        awaitingHLSReply ? hlsReply(apdu, &a) : aare(apdu, &a)
    }

    private mutating func aare(_ apdu: [UInt8], _ a: inout DLMSAssociation) -> DLMSStep<DLMSAssociation> {
        let aare: AARE
        do { aare = try AARE.decode(apdu) } catch { return .fail(MeterSessionError(.malformed, "AARE: \(error)")) }
        if case .rejected(let permanent, let diagnostic, let provider) = aare.result {
            let names: [UInt8: String] = [1: "no reason given", 2: "application context not supported", 11: "mechanism not recognised",
                                          12: "authentication mechanism required", 13: "authentication failure", 14: "authentication required"]
            let kind: MeterSessionError.Kind = !provider && [11, 12, 13, 14].contains(diagnostic) ? .security : .refused
            return .fail(MeterSessionError(kind, "association \(permanent ? "rejected" : "rejected for now"): \(names[diagnostic] ?? "diagnostic \(diagnostic)")"))
        }
        if case .highLevelGMAC = a.settings.security {
            guard let title = aare.respondingAPTitle, title.count == 8 else {
                return .fail(MeterSessionError(.security, "HLS AARE without the meter's 8-byte system title"))
            }
            a.cipher?.serverSystemTitle = title
        }
        guard let ui = aare.userInformation, !ui.isEmpty else {
            return .fail(MeterSessionError(.malformed, "AARE without an InitiateResponse"))
        }
        let initiateBytes: [UInt8]
        do { initiateBytes = try a.unprotect(ui) } catch { return .fail(error) }
        if initiateBytes.first == 0x0E {
            return .fail(MeterSessionError(.refused, "the meter refused the InitiateRequest (confirmed-service-error \(Hex.encode(initiateBytes)))"))
        }
        do {
            let response = try InitiateResponse.decode(initiateBytes)
            a.serverMaxPDUSize = response.serverMaxReceivePDUSize
            a.conformance = response.negotiatedConformance
        } catch {
            return .fail(MeterSessionError(.malformed, "InitiateResponse: \(error)"))
        }
        guard case .highLevelGMAC(let keys, let clientTitle) = a.settings.security else {
            a.associated = true
            return .finish(a)
        }
        guard let stoc = aare.authenticationValue, (8...64).contains(stoc.count) else {
            return .fail(MeterSessionError(.security, "HLS AARE without the meter's challenge"))
        }
        let reply: [UInt8]
        do {
            let ic = try a.takeInvocationCounter()
            reply = try SecuritySuite0.hlsResponse(to: stoc, systemTitle: clientTitle, invocationCounter: ic, keys: keys)
        } catch let e as MeterSessionError {
            return .fail(e)
        } catch {
            return .fail(MeterSessionError(.security, "f(StoC): \(error)"))
        }
        awaitingHLSReply = true
        let method = COSEMMethod(classID: COSEMClass.associationLN, logicalName: .currentAssociation, method: 1)
        return .send(XDLMSAPDU.actionRequestNormal(invokeID: a.nextInvokeID(), method: method, parameters: .octetString(reply)).encoded)
    }

    private mutating func hlsReply(_ apdu: [UInt8], _ a: inout DLMSAssociation) -> DLMSStep<DLMSAssociation> {
        guard case .highLevelGMAC(let keys, _) = a.settings.security, let title = a.cipher?.serverSystemTitle else {
            return .fail(MeterSessionError(.security, "HLS reply without ciphering state"))
        }
        let decoded: XDLMSAPDU
        do { decoded = try XDLMSAPDU.decode(apdu) } catch { return .fail(MeterSessionError(.malformed, "HLS reply: \(error)")) }
        guard case .actionResponseNormal(_, let result, let returned) = decoded else {
            return .fail(MeterSessionError(.security, "the meter did not accept f(StoC): \(describe(decoded))"))
        }
        guard result == 0, case .data(.octetString(let fctos))? = returned else {
            return .fail(MeterSessionError(.security, "the meter rejected f(StoC) (action result \(result)): wrong key or system title"))
        }
        do {
            _ = try SecuritySuite0.verifyHLSResponse(fctos, challenge: challenge, systemTitle: title, keys: keys)
        } catch {
            return .fail(MeterSessionError(.security, "the meter's f(CtoS) does not verify: \(error)"))
        }
        a.associated = true
        return .finish(a)
    }
}

/// Releases the association (RLRQ/RLRE) and closes the link (DISC). A meter that answers the RLRQ
/// with an error, or an association that never got that far, still gets the DISC.
public struct DLMSReleaseConversation: DLMSConversation {
    public typealias Outcome = Void

    public init() {}

    public mutating func begin(_ a: inout DLMSAssociation) -> DLMSStep<Void> {
        guard a.linkConnected else { return .finish(()) }
        return a.associated ? .send(ReleaseAPDU.request) : .disconnectLink
    }

    public mutating func link(_ event: DLMSLinkEvent, _ a: inout DLMSAssociation) -> DLMSStep<Void> { .finish(()) }

    public mutating func answer(_ apdu: [UInt8], _ a: inout DLMSAssociation) -> DLMSStep<Void> {
        a.associated = false
        return .disconnectLink
    }
}

/// A short description of an unexpected answer for an error message.
func describe(_ apdu: XDLMSAPDU) -> String {
    switch apdu {
    case .exceptionResponse(let state, let service): return "exception-response (state error \(state), service error \(service))"
    case .confirmedServiceError(let service, let kind, let value): return "confirmed-service-error (service \(service), error \(kind)/\(value))"
    default: return "an unexpected APDU"
    }
}
