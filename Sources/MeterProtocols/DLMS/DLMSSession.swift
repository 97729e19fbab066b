import ConcentratorCore

/// What a DLMS conversation asks the session engine to do next.
public enum DLMSStep<Outcome> {
    /// Open the HDLC link: SNRM, expecting UA (negotiates the sizes).
    case connectLink
    /// Close the HDLC link: DISC, expecting UA or DM.
    case disconnectLink
    /// Send an APDU (ciphered by the association when it ciphers and the APDU has a glo form),
    /// segmented as the link allows, and deliver the whole answer to `answer`.
    case send([UInt8])
    case finish(Outcome)
    case fail(MeterSessionError)
}

/// The link events a conversation sees.
public enum DLMSLinkEvent: Hashable, Sendable {
    /// UA to our SNRM.
    case connected
    /// UA or DM to our DISC.
    case disconnected
}

/// The application logic of one DLMS conversation (associate, read, profile, clock, disconnect
/// control, release). `DLMSSession` runs it over HDLC: framing, sequence numbers, segmentation,
/// RR polling, retries and ciphering are the engine's.
public protocol DLMSConversation {
    associatedtype Outcome
    mutating func begin(_ association: inout DLMSAssociation) -> DLMSStep<Outcome>
    mutating func link(_ event: DLMSLinkEvent, _ association: inout DLMSAssociation) -> DLMSStep<Outcome>
    /// A complete answer APDU, deciphered.
    mutating func answer(_ apdu: [UInt8], _ association: inout DLMSAssociation) -> DLMSStep<Outcome>
}

/// What a DLMS session produced and the association to use for the next session with that meter.
public struct DLMSSessionOutcome<Value> {
    public var value: Value
    public var association: DLMSAssociation
}

/// A DLMS/COSEM conversation with one meter over HDLC as a `MeterSession`: the bus owner writes
/// what `.transmit` gives, reads within the association's `AnswerWait`, and feeds bytes back.
///
/// The engine keeps V(S)/V(R) (modulo 8), splits long APDUs into I frames no longer than the
/// negotiated maximum (waiting for the meter's RR between segments), acknowledges segmented
/// answers with RR when a frame carries the final bit (so a window larger than one works), asks
/// again (RR poll, or the last frame repeated) after a garbled or missing answer up to
/// `settings.retries` times, ignores frames addressed to someone else, and turns DM or FRMR in the
/// middle of an exchange into a failure.
public struct DLMSSession<Conversation: DLMSConversation>: MeterSession {
    public typealias Outcome = DLMSSessionOutcome<Conversation.Outcome>

    /// The association as it stands (also after a failure: its invocation counters must not be reused).
    public private(set) var association: DLMSAssociation
    private var conversation: Conversation
    private var splitter = HDLCFrameSplitter()
    private var phase = Phase.idle
    private var pendingFrames: [[UInt8]] = []
    private var lastTransmitted: [UInt8] = []
    private var retriesLeft: Int

    private enum Phase {
        case idle
        case awaitingLink(DLMSLinkEvent)
        /// Segments still to send; each waits for the meter's RR.
        case sending([HDLCFrame])
        /// Information received so far for the current answer.
        case receiving([UInt8])
        case over
    }

    public init(_ conversation: Conversation, association: DLMSAssociation) {
        self.conversation = conversation
        self.association = association
        retriesLeft = association.settings.retries
    }

    public mutating func start() -> MeterSessionStep<Outcome> {
        let step = conversation.begin(&association)
        return perform(step, switchLine: true)
    }

    public mutating func received(_ bytes: [UInt8]) -> MeterSessionStep<Outcome> {
        pendingFrames += splitter.append(bytes)
        while !pendingFrames.isEmpty {
            let raw = pendingFrames.removeFirst()
            let frame: HDLCFrame
            do {
                frame = try HDLCFrame.decode(raw)
            } catch .malformed(let e) {
                return fail(.malformed, "frame: \(e)")
            } catch {
                return retry(after: MeterSessionError(.badCheck, "\(error)"))
            }
            guard frame.destination == association.clientAddress, frame.source == association.settings.serverAddress else {
                continue // another station's frame on the multidrop line
            }
            if let step = handle(frame) { return step }
        }
        return .awaitMore
    }

    public mutating func timedOut() -> MeterSessionStep<Outcome> {
        retry(after: MeterSessionError(.timeout, "no answer from meter \(association.settings.serverAddress)"))
    }

    // MARK: - Frames in

    private mutating func handle(_ frame: HDLCFrame) -> MeterSessionStep<Outcome>? {
        switch (phase, frame.control) {
        case (.awaitingLink(.connected), .unnumberedAcknowledge):
            do {
                let answer = try HDLCParameters.decode(frame.information)
                association.negotiated = HDLCParameters.negotiated(proposal: association.settings.hdlc, answer: answer)
            } catch {
                return fail(.malformed, "UA parameters: \(error)")
            }
            association.linkConnected = true
            association.sendSequence = 0
            association.receiveSequence = 0
            retriesLeft = association.settings.retries
            return perform(conversation.link(.connected, &association))
        case (.awaitingLink(.connected), .disconnectedMode):
            return fail(.refused, "the meter answered SNRM with DM (disconnected mode)")
        case (.awaitingLink(.disconnected), .unnumberedAcknowledge), (.awaitingLink(.disconnected), .disconnectedMode):
            association.linkConnected = false
            association.associated = false
            return perform(conversation.link(.disconnected, &association))
        case (_, .disconnectedMode):
            association.linkConnected = false
            association.associated = false
            return fail(.aborted, "the meter dropped the link (DM) in the middle of an exchange")
        case (_, .frameReject):
            return fail(.refused, "the meter rejected a frame (FRMR)")
        case (.sending(var rest), .receiveReady(let nr, _)):
            // The meter acknowledges the segment by asking for the next one's N(S).
            guard case .information(let expected, _, _)? = rest.first?.control, nr == expected else { return resendLastFrame() }
            retriesLeft = association.settings.retries
            let next = rest.removeFirst()
            phase = rest.isEmpty ? .receiving([]) : .sending(rest)
            return transmit(next)
        case (.receiving(var buffer), .information(let ns, let nr, let final)):
            guard ns == association.receiveSequence else { return nil } // a repeat we already have
            guard nr == association.sendSequence else { return fail(.malformed, "I frame acknowledges N(R)=\(nr), expected \(association.sendSequence)") }
            association.receiveSequence = (association.receiveSequence + 1) & 7
            retriesLeft = association.settings.retries
            buffer += frame.information
            guard buffer.count <= 1 << 20 else { return fail(.malformed, "answer longer than 1 MiB") }
            if frame.segmented {
                phase = .receiving(buffer)
                return final ? transmit(HDLCFrame(destination: association.settings.serverAddress, source: association.clientAddress,
                                                  control: .receiveReady(receive: association.receiveSequence, final: true))) : nil
            }
            phase = .idle
            guard buffer.count >= 3, buffer[0] == 0xE6, buffer[1] == 0xE7, buffer[2] == 0x00 else {
                return fail(.malformed, "answer without the LLC header E6 E7 00")
            }
            let apdu: [UInt8]
            do { apdu = try association.unprotect(Array(buffer[3...])) } catch { return .failed(error) }
            return perform(conversation.answer(apdu, &association))
        case (.receiving, .receiveReady(let nr, _)):
            // The meter did not get our last I frame (it still expects N(S) = nr): send it again.
            if nr != association.sendSequence { return resendLastFrame() }
            return nil
        default:
            return nil // UI frames and unexpected kinds are ignored
        }
    }

    // MARK: - Steps out

    private mutating func perform(_ step: DLMSStep<Conversation.Outcome>, switchLine: Bool = false) -> MeterSessionStep<Outcome> {
        let server = association.settings.serverAddress, client = association.clientAddress
        switch step {
        case .connectLink:
            phase = .awaitingLink(.connected)
            let info = association.settings.hdlc == .defaults ? [] : association.settings.hdlc.encoded
            return transmit(HDLCFrame(destination: server, source: client, control: .setNormalResponseMode, information: info),
                            switchLine: switchLine)
        case .disconnectLink:
            phase = .awaitingLink(.disconnected)
            return transmit(HDLCFrame(destination: server, source: client, control: .disconnect), switchLine: switchLine)
        case .send(let apdu):
            guard association.linkConnected else { return fail(.malformed, "no HDLC link to send on") }
            let payload: [UInt8]
            do { payload = try association.protect(apdu) } catch { return .failed(error) }
            var frames = segments([0xE6, 0xE6, 0x00] + payload)
            let first = frames.removeFirst()
            phase = frames.isEmpty ? .receiving([]) : .sending(frames)
            return transmit(first, switchLine: switchLine)
        case .finish(let value):
            phase = .over
            return .finished(DLMSSessionOutcome(value: value, association: association))
        case .fail(let error):
            phase = .over
            return .failed(error)
        }
    }

    /// The I frames carrying `information`, each at most the negotiated transmit size, all but the
    /// last with the S bit. Sequence numbers are assigned here, in order.
    private mutating func segments(_ information: [UInt8]) -> [HDLCFrame] {
        let size = max(1, association.negotiated.maxInfoTransmit)
        var frames: [HDLCFrame] = []
        var offset = 0
        repeat {
            let end = min(information.count, offset + size)
            frames.append(HDLCFrame(destination: association.settings.serverAddress, source: association.clientAddress,
                                    control: .information(send: association.sendSequence, receive: association.receiveSequence, final: true),
                                    segmented: end < information.count, information: Array(information[offset..<end])))
            association.sendSequence = (association.sendSequence + 1) & 7
            offset = end
        } while offset < information.count
        return frames
    }

    private mutating func transmit(_ frame: HDLCFrame, switchLine: Bool = false) -> MeterSessionStep<Outcome> {
        lastTransmitted = frame.encoded()
        splitter.reset()
        return .transmit(bytes: lastTransmitted, line: switchLine ? association.settings.line : nil, wait: association.settings.wait)
    }

    private mutating func resendLastFrame() -> MeterSessionStep<Outcome>? {
        guard retriesLeft > 0 else { return fail(.malformed, "the meter keeps asking for a frame it does not accept") }
        retriesLeft -= 1
        splitter.reset()
        return .transmit(bytes: lastTransmitted, line: nil, wait: association.settings.wait)
    }

    /// After a lost or garbled answer: ask again, or give up with `error`.
    private mutating func retry(after error: MeterSessionError) -> MeterSessionStep<Outcome> {
        guard retriesLeft > 0 else {
            phase = .over
            return .failed(error)
        }
        retriesLeft -= 1
        splitter.reset()
        pendingFrames = []
        switch phase {
        case .receiving:
            // An RR poll: the meter repeats its last I frame, or answers RR(N(R)) when our request was lost.
            let poll = HDLCFrame(destination: association.settings.serverAddress, source: association.clientAddress,
                                 control: .receiveReady(receive: association.receiveSequence, final: true))
            return .transmit(bytes: poll.encoded(), line: nil, wait: association.settings.wait)
        default:
            return .transmit(bytes: lastTransmitted, line: nil, wait: association.settings.wait)
        }
    }

    private mutating func fail(_ kind: MeterSessionError.Kind, _ detail: String) -> MeterSessionStep<Outcome> {
        phase = .over
        return .failed(MeterSessionError(kind, "meter \(association.settings.serverAddress): \(detail)"))
    }
}
