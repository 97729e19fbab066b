import ConcentratorCore
import MeterProtocols
import Platform

/// Why a DLMS exchange on the bus failed: the session's typed error, and whether the port failed.
struct DLMSExchangeFailure: Error {
    var error: MeterSessionError
    var portFailure: String?
    var transactions = 0
    var wireMilliseconds = 0.0

    /// The error code a poll records for it.
    var code: MeterErrorCode { portFailure != nil ? .ioError : MeterErrorCode(error) }
}

/// One DLMS meter's conversation within one step of the bus thread: the association (SNRM/UA,
/// AARQ/AARE and for HLS the challenge exchange), the service sessions on it, and the release.
/// Every session runs through `MeterSessionRunner` on the bus owner's port. Invocation counters
/// are reserved (durable) before each session that could use them, and what a session spent is
/// noted even when it failed, so no counter is ever used twice.
final class DLMSBusExchange {
    let bus: BusOwner
    let meter: PolledMeter
    let link: DLMSMeterLink
    private(set) var association: DLMSAssociation
    private(set) var transactions = 0
    private(set) var wireMilliseconds = 0.0
    private(set) var portFailure: String?

    private init(bus: BusOwner, meter: PolledMeter, link: DLMSMeterLink, association: DLMSAssociation) {
        self.bus = bus
        self.meter = meter
        self.link = link
        self.association = association
    }

    /// Associates with the meter. An association a yielded profile read kept open is dropped: the
    /// new SNRM resets the meter's link (its read continues with a new association).
    static func open(bus: BusOwner, meter: PolledMeter, link: DLMSMeterLink) -> Result<DLMSBusExchange, DLMSExchangeFailure> {
        link.openAssociation = nil
        link.generation &+= 1
        let security: DLMSClientSecurity
        switch link.security(bus.services) {
        case .success(let s): security = s
        case .failure(let e): return .failure(DLMSExchangeFailure(error: e))
        }
        let settings = link.clientSettings(security: security, line: bus.settings.line, timer: meter.timer)
        var counters: ClosedRange<UInt32> = 1...1
        if link.usesInvocationCounters {
            switch link.reserveCounters(needed: 16, store: bus.services.invocationCounters) {
            case .success(let r): counters = r
            case .failure(let e): return .failure(DLMSExchangeFailure(error: e))
            }
        }
        let exchange = DLMSBusExchange(bus: bus, meter: meter, link: link,
                                       association: DLMSAssociation(settings: settings, invocationCounters: counters))
        var challenge: [UInt8] = []
        if link.usesInvocationCounters {
            var random = SystemRandomNumberGenerator()
            challenge = (0..<16).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        switch exchange.run(DLMSAssociateConversation(challenge: challenge), counters: 4) {
        case .success(let associated):
            exchange.association = associated
            return .success(exchange)
        case .failure(let e):
            exchange.releaseLink()
            return .failure(exchange.failure(e))
        }
    }

    /// Reopens an association a profile read kept between steps, when nothing used the meter since.
    static func resume(bus: BusOwner, meter: PolledMeter, link: DLMSMeterLink, generation: Int) -> DLMSBusExchange? {
        guard link.generation == generation, let open = link.openAssociation, open.associated else { return nil }
        return DLMSBusExchange(bus: bus, meter: meter, link: link, association: open)
    }

    /// The failure with this exchange's statistics.
    func failure(_ error: MeterSessionError) -> DLMSExchangeFailure {
        DLMSExchangeFailure(error: error, portFailure: portFailure, transactions: transactions, wireMilliseconds: wireMilliseconds)
    }

    /// Runs one conversation on the association; `counters` is how many invocation counters it may
    /// need at most (reserved and durable before it starts).
    func run<C: DLMSConversation>(_ conversation: C, counters: UInt32) -> Result<C.Outcome, MeterSessionError> {
        if link.usesInvocationCounters {
            switch link.reserveCounters(needed: counters, store: bus.services.invocationCounters) {
            case .success(let range): association.extendReservation(through: range.upperBound)
            case .failure(let e): return .failure(e)
            }
        }
        var session = DLMSSession(conversation, association: association)
        let meter = self.meter
        let runner = MeterSessionRunner(line: bus.line, waitExcludesRequest: true) { meter.timer.observe(turnaroundMilliseconds: $0) }
        let run = runner.run(&session)
        transactions += run.transactions
        wireMilliseconds += run.wireMilliseconds
        bus.noteSession(transactions: run.transactions, wireMilliseconds: run.wireMilliseconds)
        if let p = run.portFailure { portFailure = p }
        association = session.association
        link.spent(association)
        switch run.result {
        case .success(let outcome):
            association = outcome.association
            link.spent(association)
            return .success(outcome.value)
        case .failure(let e):
            return .failure(e)
        }
    }

    /// Runs GET/SET/ACTION operations.
    func perform(_ operations: [DLMSOperation]) -> Result<[DLMSOperationResult], MeterSessionError> {
        // One counter per request and per block acknowledged; long answers come in a few blocks.
        run(DLMSServiceConversation(operations), counters: UInt32(operations.count) * 4 + 8)
    }

    /// Keeps the association open for the next step of a profile read.
    func keepOpen() -> Int {
        link.openAssociation = association
        return link.generation
    }

    /// Releases the association and closes the link (best effort: a meter that does not answer
    /// drops the association by its inactivity timeout).
    func release() {
        link.openAssociation = nil
        guard association.linkConnected, portFailure == nil else { return }
        _ = run(DLMSReleaseConversation(), counters: 2)
    }

    /// Closes a link that was opened but never associated.
    private func releaseLink() {
        guard association.linkConnected, portFailure == nil else { return }
        _ = run(DLMSReleaseConversation(), counters: 2)
    }
}
