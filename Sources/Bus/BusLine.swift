import ConcentratorCore
import Logging
import Platform

/// The bus owner's handle on its port. It opens (and after a failure, reopens with back-off) the
/// one serial port of the bus, switches line settings per protocol, keeps the inter-frame silence
/// between transactions, and hosts the protocol masters. Used only on the bus thread.
final class BusLine {
    let settings: BusSettings
    private let logger: Logger
    private(set) var port: SerialPort?
    private var modbus: ModbusMaster?
    /// The last open failure, while the port is unavailable.
    private(set) var openError: SerialPortError?
    private var reopenDelay: Duration = .seconds(1)
    private var nextOpenAttempt: ContinuousClock.Instant = .now
    private var lastFrameEnd: ContinuousClock.Instant = .now
    private var warnedNoRS485 = false
    /// Called when the port becomes unavailable or available again (for events).
    var onPortStateChange: (SerialPortError?) -> Void = { _ in }

    init(settings: BusSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// Line settings that replace the bus's own for the current step only (a scan with the
    /// installer's settings that are not applied yet); nil = the bus's settings.
    var lineOverride: LineSettings? {
        didSet { if lineOverride != oldValue { modbus = nil } }
    }

    /// The line settings in use now.
    var effectiveLine: LineSettings { lineOverride ?? settings.line }

    /// Opens the port if needed. Returns the failure while the port is unavailable; retries at
    /// most every `reopenDelay` (1 s doubling to 60 s), logging only state changes. `retryNow`
    /// tries at once (work an installer waits for must not be answered from an old failure).
    @discardableResult
    func ensureOpen(retryNow: Bool = false) -> SerialPortError? {
        if port != nil { return nil }
        guard retryNow || ContinuousClock.now >= nextOpenAttempt else { return openError }
        do {
            let opened = try SerialPort(path: settings.device, line: settings.line)
            if settings.rs485.enabled, !opened.configureRS485(settings.rs485), !warnedNoRS485 {
                warnedNoRS485 = true
                logger.notice("RS-485 mode not supported by \(settings.device) (a PTY, or an adapter with automatic direction control); continuing without it")
            }
            port = opened
            modbus = nil
            reopenDelay = .seconds(1)
            if let previous = openError {
                logger.notice("port \(settings.device) is available again (was: \(previous.kind.rawValue))")
                openError = nil
                onPortStateChange(nil)
            } else {
                logger.info("opened \(settings.device) at \(settings.line.summary)\(opened.viaLibserialport ? "" : " (POSIX tty)")")
            }
            lastFrameEnd = .now
            return nil
        } catch {
            nextOpenAttempt = .now + reopenDelay
            reopenDelay = min(reopenDelay * 2, .seconds(60))
            if openError != error {
                logger.error("\(error.description)")
                openError = error
                onPortStateChange(error)
            }
            return error
        }
    }

    /// Closes the port after an I/O failure; the next transaction reopens it (the device may have
    /// vanished and come back under the same stable name).
    func portFailed(_ reason: String) {
        guard let port else { return }
        logger.warning("port \(port.path) failed (\(reason)); closing it and reopening")
        modbus = nil
        port.close()
        self.port = nil
        nextOpenAttempt = .now
    }

    /// The Modbus master on the open port, with the bus's Modbus line settings applied.
    func modbusMaster() -> ModbusMaster? {
        guard let port else { return nil }
        if port.line != effectiveLine {
            do { try port.apply(effectiveLine) } catch {
                logger.error("\(error.description)")
                return nil
            }
        }
        if let modbus { return modbus }
        let master = ModbusMaster(port: port)
        modbus = master
        return master
    }

    /// The silence every frame must be preceded by: the protocol minimum (3.5 characters for
    /// Modbus RTU) plus the configured extra gap.
    var interFrameSilence: Duration {
        .microseconds(Int64(effectiveLine.modbusInterFrameMicroseconds) + Int64(settings.interFrameGapMilliseconds) * 1000)
    }

    /// Sleeps until the line has been silent long enough for the next frame.
    func waitForSilence() {
        let ready = lastFrameEnd + interFrameSilence
        let now = ContinuousClock.now
        if ready > now { sleepThread(ready - now) }
    }

    /// Marks the end of a transaction (the last byte seen or the timeout).
    func markFrameEnd() { lastFrameEnd = .now }

    /// Drops late bytes after a failed transaction.
    func flushInput() { port?.flush() }

    func close() {
        modbus = nil
        port?.close()
        port = nil
    }
}
