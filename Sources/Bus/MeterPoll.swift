import ConcentratorCore
import MeterProtocols

/// The outcome of polling one meter once, whatever its protocol.
struct MeterPoll {
    var values: [QuantityValue]
    /// The transport failure that ended the poll early (timeout, bad CRC, garbage, port), if any.
    var transportFailure: MeterErrorCode?
    /// A non-transport error some values got (an exception), if any.
    var valueError: MeterErrorCode?
    var transactions = 0
    /// Computed time on the wire (frames and silences) for the transactions, in milliseconds.
    var wireMilliseconds = 0.0
    /// Real time spent on this meter.
    var elapsed: Duration = .zero
    /// The meter's own clock, when the poll read it (IEC readout clock lines, DLMS class 8).
    var meterTime: Timestamp?
    /// What went wrong in words (a session's error: what and where, never a secret).
    var failureDetail: String?
    /// A meter clock set during this poll (the configured threshold was exceeded).
    var clockSet: MeterClockSetRecord?
    /// The raw status register (`ModbusStatusSpec`), when it was asked for and read.
    var status: UInt64?
    /// The plan with the blocks that were split because the meter refused them (exception 2 over
    /// a merged read); nil when the plan worked as it was. The meter keeps it for its next polls.
    var refinedPlan: [ModbusReadBlock]?

    var answered: Bool { transportFailure == nil }

    init(values: [QuantityValue], transportFailure: MeterErrorCode? = nil) {
        self.values = values
        self.transportFailure = transportFailure
    }

    /// A poll that failed as a whole: every wanted quantity carries `error`.
    init(failed error: MeterErrorCode, quantities: [QuantityID], detail: String?) {
        values = quantities.map { QuantityValue(quantity: $0, error: error) }
        transportFailure = error
        failureDetail = detail
    }
}

extension MeterErrorCode {
    /// The error a failed meter session stands for.
    init(_ error: MeterSessionError) {
        switch error.kind {
        case .timeout: self = .noResponse
        case .badCheck: self = .badChecksum
        case .malformed: self = .malformedResponse
        case .refused: self = .meterRefused
        case .security: self = .securityFailure
        case .aborted: self = .associationAborted
        }
    }
}
