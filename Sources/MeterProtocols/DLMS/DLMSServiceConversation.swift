import ConcentratorCore

/// One COSEM service call on an open association.
public enum DLMSOperation: Hashable, Sendable {
    case get(COSEMAttribute, access: SelectiveAccess? = nil)
    case set(COSEMAttribute, DLMSData)
    case action(COSEMMethod, parameters: DLMSData?)
}

/// What one operation gave.
public enum DLMSOperationResult: Hashable, Sendable {
    /// GET: the attribute's value (long answers reassembled from their blocks).
    case data(DLMSData)
    /// GET or SET refused: the data-access-result (3 read-write denied, 4 object undefined, …).
    case accessFailure(DataAccessResult)
    /// SET done (result 0) or ACTION done with its action-result (0 success) and return data.
    case done(result: UInt8, returned: DLMSData?)

    /// The data of a successful GET.
    public var data: DLMSData? {
        if case .data(let d) = self { return d }
        return nil
    }
}

/// Runs a list of GET, SET and ACTION calls in order and returns one result per call. GET answers
/// sent with-datablock are reassembled (each block acknowledged with GET-Request-Next carrying the
/// block number received); a refused attribute is a result, not a failure. An exception response
/// or a confirmed-service-error fails the session (the meter refuses the service itself).
public struct DLMSServiceConversation: DLMSConversation {
    public typealias Outcome = [DLMSOperationResult]
    private let operations: [DLMSOperation]
    private var results: [DLMSOperationResult] = []
    private var invokeID: UInt8 = 0
    private var blocks = DLMSBlockAssembly()

    public init(_ operations: [DLMSOperation]) { self.operations = operations }

    public mutating func begin(_ a: inout DLMSAssociation) -> DLMSStep<Outcome> {
        guard a.associated else { return .fail(MeterSessionError(.aborted, "no association: associate first")) }
        return next(&a)
    }

    public mutating func link(_ event: DLMSLinkEvent, _ a: inout DLMSAssociation) -> DLMSStep<Outcome> {
        .fail(MeterSessionError(.aborted, "unexpected link event"))
    }

    public mutating func answer(_ apdu: [UInt8], _ a: inout DLMSAssociation) -> DLMSStep<Outcome> {
        let decoded: XDLMSAPDU
        do { decoded = try XDLMSAPDU.decode(apdu) } catch { return .fail(MeterSessionError(.malformed, "answer: \(error)")) }
        switch decoded {
        case .getResponseNormal(let id, let result) where id & 0x0F == invokeID & 0x0F:
            switch result {
            case .data(let d): results.append(.data(d))
            case .failure(let code): results.append(.accessFailure(code))
            }
        case .getResponseBlock(let id, let last, let block, let raw) where id & 0x0F == invokeID & 0x0F:
            switch blocks.add(block: block, last: last, raw: raw) {
            case .needNext(let ack):
                return .send(XDLMSAPDU.getRequestNext(invokeID: invokeID, block: ack).encoded)
            case .complete(let bytes):
                do { results.append(.data(try DLMSDataCodec.decode(bytes))) } catch {
                    return .fail(MeterSessionError(.malformed, "reassembled data: \(error)"))
                }
            case .failed(let code):
                results.append(.accessFailure(code))
            case .outOfOrder(let detail):
                return .fail(MeterSessionError(.malformed, detail))
            }
        case .setResponseNormal(let id, let result) where id & 0x0F == invokeID & 0x0F:
            results.append(result == 0 ? .done(result: 0, returned: nil) : .accessFailure(result))
        case .actionResponseNormal(let id, let result, let returned) where id & 0x0F == invokeID & 0x0F:
            var data: DLMSData?
            if case .data(let d)? = returned { data = d }
            results.append(.done(result: result, returned: data))
        case .exceptionResponse, .confirmedServiceError:
            return .fail(MeterSessionError(.refused, "the meter refused the request: \(describe(decoded))"))
        default:
            return .fail(MeterSessionError(.malformed, "answer does not match the request (invoke id \(invokeID & 0x0F))"))
        }
        return next(&a)
    }

    private mutating func next(_ a: inout DLMSAssociation) -> DLMSStep<Outcome> {
        guard results.count < operations.count else { return .finish(results) }
        invokeID = a.nextInvokeID()
        blocks = DLMSBlockAssembly()
        switch operations[results.count] {
        case .get(let attribute, let access):
            return .send(XDLMSAPDU.getRequestNormal(invokeID: invokeID, attribute: attribute, access: access).encoded)
        case .set(let attribute, let value):
            return .send(XDLMSAPDU.setRequestNormal(invokeID: invokeID, attribute: attribute, access: nil, value: value).encoded)
        case .action(let method, let parameters):
            return .send(XDLMSAPDU.actionRequestNormal(invokeID: invokeID, method: method, parameters: parameters).encoded)
        }
    }
}

/// Collects the raw-data blocks of one GET answered with-datablock (Green Book §9.4.6.4): blocks
/// must arrive numbered 1, 2, 3, …; each but the last is acknowledged with its number.
public struct DLMSBlockAssembly: Hashable, Sendable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var lastBlock: UInt32 = 0
    /// The most a reassembled answer may hold before it is refused.
    public static let maximumBytes = 1 << 22

    public init() {}

    /// What adding one block gave: ask for the next, the whole answer, a refusal, or a broken sequence.
    public enum Progress: Hashable, Sendable {
        case needNext(acknowledging: UInt32)
        case complete([UInt8])
        case failed(DataAccessResult)
        case outOfOrder(String)
    }

    public mutating func add(block: UInt32, last: Bool, raw: Result<[UInt8], XDLMSAPDU.BlockFailure>) -> Progress {
        guard block == lastBlock + 1 else { return .outOfOrder("data block \(block) after block \(lastBlock)") }
        lastBlock = block
        switch raw {
        case .failure(let f): return .failed(f.result)
        case .success(let part):
            bytes += part
            guard bytes.count <= Self.maximumBytes else { return .outOfOrder("answer longer than \(Self.maximumBytes) bytes") }
            return last ? .complete(bytes) : .needNext(acknowledging: block)
        }
    }
}
