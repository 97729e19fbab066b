import ConcentratorCore
import MeterProtocols

extension DLMSMeterServer {
    /// Answers one plain xDLMS request: GET (with block transfer when the answer exceeds the PDU
    /// size), SET, ACTION, and the HLS pass 3 on the current association.
    mutating func service(_ apdu: [UInt8], at time: Timestamp, record: inout ServedRecord) -> [UInt8] {
        guard let request = try? XDLMSAPDU.decode(apdu) else {
            return XDLMSAPDU.exceptionResponse(stateError: 2, serviceError: 3).encoded
        }
        if session.ciphered, !session.authenticated {
            // Before HLS pass 3 only reply_to_HLS_authentication is allowed.
            guard case .actionRequestNormal(let id, let m, let p) = request, m.classID == COSEMClass.associationLN,
                  m.logicalName == .currentAssociation, m.method == 1 else {
                return XDLMSAPDU.exceptionResponse(stateError: 1, serviceError: 1).encoded
            }
            return replyToHLS(id, parameters: p, record: &record)
        }
        switch request {
        case .getRequestNormal(let id, let attribute, let access):
            blocks = nil
            record.object = "\(attribute.logicalName)/\(attribute.attribute)"
            let (result, served, rows) = objects.get(attribute, access: access, at: time)
            if !served.isEmpty { record.values = served }
            if let rows { record.count = UInt16(clamping: rows) }
            let whole = XDLMSAPDU.getResponseNormal(invokeID: id, result: result).encoded
            let limit = min(limits.maxPDUSize, session.clientMaxPDU)
            guard whole.count > limit, case .data(let data) = result else { return whole }
            // With-datablock: raw-data chunks that fit the PDU once ciphered (about 40 bytes of overhead).
            let encoded = DLMSDataCodec.encode(data)
            let size = max(16, limit - 40)
            var chunks: [[UInt8]] = []
            var offset = 0
            while offset < encoded.count {
                chunks.append(Array(encoded[offset..<min(encoded.count, offset + size)]))
                offset += size
            }
            blocks = (id, chunks, 1)
            if rows != nil { session.profileBlocksServed += 1 }
            return XDLMSAPDU.getResponseBlock(invokeID: id, last: chunks.count == 1, block: 1, raw: .success(chunks[0])).encoded
        case .getRequestNext(let id, let block):
            guard let b = blocks, b.invokeID & 0x0F == id & 0x0F, block == UInt32(b.sent), b.sent < b.chunks.count else {
                blocks = nil
                return XDLMSAPDU.getResponseBlock(invokeID: id, last: true, block: block &+ 1, raw: .failure(.init(14))).encoded
            }
            blocks = (b.invokeID, b.chunks, b.sent + 1)
            record.count = nil
            session.profileBlocksServed += 1
            return XDLMSAPDU.getResponseBlock(invokeID: id, last: b.sent + 1 == b.chunks.count, block: UInt32(b.sent + 1),
                                              raw: .success(b.chunks[b.sent])).encoded
        case .setRequestNormal(let id, let attribute, _, let value):
            record.object = "\(attribute.logicalName)/\(attribute.attribute)"
            return XDLMSAPDU.setResponseNormal(invokeID: id, result: objects.set(attribute, value: value, at: time)).encoded
        case .actionRequestNormal(let id, let method, _):
            record.object = "\(method.logicalName)/m\(method.method)"
            if method.classID == COSEMClass.disconnectControl { record.coilWritten = method.method == 2 }
            return XDLMSAPDU.actionResponseNormal(invokeID: id, result: objects.action(method, at: time), returned: nil).encoded
        default:
            return XDLMSAPDU.exceptionResponse(stateError: 2, serviceError: 2).encoded
        }
    }

    /// HLS pass 3 and 4: checks f(StoC), answers f(CtoS).
    private mutating func replyToHLS(_ id: UInt8, parameters: DLMSData?, record: inout ServedRecord) -> [UInt8] {
        record.object = "0-0:40.0.0.255/m1"
        guard let keys = secrets.keys, let clientTitle = session.clientSystemTitle, let stoc = session.serverChallenge,
              let ctos = session.clientChallenge, case .octetString(let fstoc)? = parameters,
              let fstocCounter = try? SecuritySuite0.verifyHLSResponse(fstoc, challenge: stoc, systemTitle: clientTitle, keys: keys) else {
            record.fault = "hls-rejected"
            return XDLMSAPDU.actionResponseNormal(invokeID: id, result: 3, returned: nil).encoded
        }
        session.authenticated = true
        // The client's counter inside f(StoC) is a GMAC input, recorded (it must never repeat either).
        recordInvocationCounter(fstocCounter)
        record.authenticationCounter = fstocCounter
        let ic = takeServerInvocationCounter()
        guard let fctos = try? SecuritySuite0.hlsResponse(to: ctos, systemTitle: secrets.systemTitle, invocationCounter: ic, keys: keys) else {
            return XDLMSAPDU.actionResponseNormal(invokeID: id, result: 250, returned: nil).encoded
        }
        return XDLMSAPDU.actionResponseNormal(invokeID: id, result: 0, returned: .data(.octetString(fctos))).encoded
    }
}
