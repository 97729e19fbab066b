import ConcentratorCore

/// Profile generic (class 7) helpers: the range descriptor of selective access and the capture
/// object definitions (Blue Book §4.3.6).
public enum COSEMProfile {
    /// One entry of `capture_objects`: structure { class_id, logical_name, attribute_index, data_index }.
    public struct CaptureObject: Hashable, Sendable {
        public var classID: UInt16
        public var logicalName: COSEMLogicalName
        public var attribute: Int8
        public var dataIndex: UInt16

        public init(classID: UInt16, logicalName: COSEMLogicalName, attribute: Int8, dataIndex: UInt16 = 0) {
            self.classID = classID
            self.logicalName = logicalName
            self.attribute = attribute
            self.dataIndex = dataIndex
        }

        public var data: DLMSData {
            .structure([.longUnsigned(classID), .octetString(logicalName.bytes), .integer(attribute), .longUnsigned(dataIndex)])
        }

        public init?(_ data: DLMSData) {
            guard case .structure(let e) = data, e.count == 4, case .longUnsigned(let c) = e[0], case .octetString(let n) = e[1],
                  n.count == 6, case .integer(let a) = e[2], case .longUnsigned(let i) = e[3] else { return nil }
            self.init(classID: c, logicalName: COSEMLogicalName(n), attribute: a, dataIndex: i)
        }

        /// The clock's time attribute, the usual first capture object and the range's restricting object.
        public static let clockTime = CaptureObject(classID: COSEMClass.clock, logicalName: .clock, attribute: 2)
    }

    /// Selective access by range (selector 1): entries whose `restricting` column lies in
    /// `from`…`to`, with the columns `selected` (empty: all columns).
    public static func range(from: Timestamp, to: Timestamp, restricting: CaptureObject = .clockTime,
                             deviationMinutes: Int16? = 0, selected: [CaptureObject] = []) -> SelectiveAccess {
        SelectiveAccess(selector: 1, parameters: .structure([
            restricting.data,
            .octetString(COSEMDateTime(from, deviationMinutes: deviationMinutes).bytes),
            .octetString(COSEMDateTime(to, deviationMinutes: deviationMinutes).bytes),
            .array(selected.map(\.data)),
        ]))
    }
}

/// Where a profile read stopped after a block: hand it to the next `DLMSProfileConversation` to
/// continue. It holds the GET's invoke id, the last block received and the bytes of a row that
/// was cut at the block boundary.
public struct DLMSProfileContinuation: Hashable, Sendable {
    public let invokeID: UInt8
    public let lastBlock: UInt32
    var rows: DLMSRowStream
}

/// One step of a profile read: the rows completed by this step's block(s), and how to go on.
public struct DLMSProfileChunk: Hashable, Sendable {
    /// Each row is one buffer entry: the captured values in capture-object order.
    public var rows: [[DLMSData]]
    /// Nil when the meter sent the last block; otherwise pass it to the next conversation.
    public var continuation: DLMSProfileContinuation?
    /// A refusal of the whole read (data-access-result), e.g. 4 object undefined.
    public var accessFailure: DataAccessResult?
}

/// Reads a profile generic buffer by range, yielding after every GET block: each session finishes
/// with the rows it completed and a continuation, so the bus owner can run other meters' sessions
/// (an on-demand read, a command) before asking for the next block with
/// `DLMSProfileConversation(continuing:)`. A short answer (no block transfer) finishes at once
/// without a continuation. The meter keeps the association meanwhile; keep the pause well inside
/// its inactivity timeout (often 120 s). To abandon a read, simply do not continue it.
public struct DLMSProfileConversation: DLMSConversation {
    public typealias Outcome = DLMSProfileChunk
    private let request: XDLMSAPDU
    private var invokeID: UInt8
    private var lastBlock: UInt32
    private var rows: DLMSRowStream

    /// Starts a read of `profile` (its buffer, attribute 2) with `access` (usually `COSEMProfile.range`).
    public init(profile: COSEMLogicalName, access: SelectiveAccess?) {
        request = .getRequestNormal(invokeID: 0, attribute: COSEMAttribute(classID: COSEMClass.profileGeneric, logicalName: profile, attribute: 2),
                                    access: access)
        invokeID = 0
        lastBlock = 0
        rows = DLMSRowStream()
    }

    /// Continues a read that yielded after a block.
    public init(continuing c: DLMSProfileContinuation) {
        request = .getRequestNext(invokeID: c.invokeID, block: c.lastBlock)
        invokeID = c.invokeID
        lastBlock = c.lastBlock
        rows = c.rows
    }

    public mutating func begin(_ a: inout DLMSAssociation) -> DLMSStep<Outcome> {
        guard a.associated else { return .fail(MeterSessionError(.aborted, "no association: associate first")) }
        if case .getRequestNormal(_, let attribute, let access) = request {
            invokeID = a.nextInvokeID()
            return .send(XDLMSAPDU.getRequestNormal(invokeID: invokeID, attribute: attribute, access: access).encoded)
        }
        return .send(request.encoded)
    }

    public mutating func link(_ event: DLMSLinkEvent, _ a: inout DLMSAssociation) -> DLMSStep<Outcome> {
        .fail(MeterSessionError(.aborted, "unexpected link event"))
    }

    public mutating func answer(_ apdu: [UInt8], _ a: inout DLMSAssociation) -> DLMSStep<Outcome> {
        let decoded: XDLMSAPDU
        do { decoded = try XDLMSAPDU.decode(apdu) } catch { return .fail(MeterSessionError(.malformed, "profile answer: \(error)")) }
        switch decoded {
        case .getResponseNormal(let id, .data(let data)) where id & 0x0F == invokeID & 0x0F:
            guard case .array(let entries) = data else { return .fail(MeterSessionError(.malformed, "profile buffer is not an array")) }
            var out: [[DLMSData]] = []
            for entry in entries {
                guard case .structure(let values) = entry else { return .fail(MeterSessionError(.malformed, "profile entry is not a structure")) }
                out.append(values)
            }
            return .finish(DLMSProfileChunk(rows: out, continuation: nil, accessFailure: nil))
        case .getResponseNormal(let id, .failure(let code)) where id & 0x0F == invokeID & 0x0F:
            return .finish(DLMSProfileChunk(rows: [], continuation: nil, accessFailure: code))
        case .getResponseBlock(let id, let last, let block, let raw) where id & 0x0F == invokeID & 0x0F:
            guard block == lastBlock + 1 else { return .fail(MeterSessionError(.malformed, "data block \(block) after block \(lastBlock)")) }
            lastBlock = block
            switch raw {
            case .failure(let f):
                return .finish(DLMSProfileChunk(rows: [], continuation: nil, accessFailure: f.result))
            case .success(let part):
                let complete: [[DLMSData]]
                do { complete = try rows.append(part, final: last) } catch {
                    return .fail(MeterSessionError(.malformed, "profile buffer: \(error)"))
                }
                let continuation = last ? nil : DLMSProfileContinuation(invokeID: invokeID, lastBlock: block, rows: rows)
                return .finish(DLMSProfileChunk(rows: complete, continuation: continuation, accessFailure: nil))
            }
        case .exceptionResponse, .confirmedServiceError:
            return .fail(MeterSessionError(.refused, "the meter refused the profile read: \(describe(decoded))"))
        default:
            return .fail(MeterSessionError(.malformed, "answer does not match the profile request"))
        }
    }
}
