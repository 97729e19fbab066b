#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import MeterProtocols
import Platform

/// The IEC 62056-21 meters of one simulated line: the pure server (under the bus lock) and whether
/// the PTY carries 7E1 as 8N1 with software parity (decided on each new PTY, line thread only).
final class IECSimulatedLine: @unchecked Sendable {
    var server: IECLineServer
    var softwareParity: SoftwareParity?

    init(setups: [IECSimulatedMeterSetup], seed: UInt64) throws(SimulatorError) {
        var meters: [IECSimulatedMeter] = []
        for setup in setups { meters.append(try IECSimulatedMeter(setup: setup, seed: seed)) }
        server = try IECLineServer(meters: meters)
    }

    /// Decides the framing for a new PTY: 7E1 when the PTY keeps it, otherwise (Linux answers
    /// EINVAL) 8N1 with the parity bit in software, exactly as the client's `SerialPort` falls back.
    func adopt(_ terminal: PseudoTerminal) {
        softwareParity = TerminalFraming.acceptsSevenEven(terminal.slaveFD) ? nil : SoftwareParity(.even)
    }

    /// 7-bit characters from bytes read; nil when a parity bit is wrong (a garbled message).
    func characters(_ bytes: [UInt8]) -> [UInt8]? {
        guard let softwareParity else { return bytes }
        return try? softwareParity.stripping(bytes)
    }

    func wireBytes(_ characters: [UInt8]) -> [UInt8] { softwareParity?.adding(to: characters) ?? characters }
}

extension SimulatedBus {
    /// Whether bytes that arrived on an idle line open an IEC 62056-21 sign-on (`/?`, parity bit
    /// ignored); never true on a line without IEC meters, so Modbus lines behave as before.
    func opensIECExchange(_ bytes: [UInt8]) -> Bool {
        guard iecLine != nil else { return false }
        return IECLineServer.startsSignOn(bytes.prefix(2).map { $0 & 0x7F })
    }

    /// Serves one IEC conversation from its sign-on to its end (readout sent, break, inactivity,
    /// a collision, stop or vanish), pacing every reply at its own rate: 7E1 is 10 bits per
    /// character, so the emulated rate changes with the option select as on a real line.
    func serveIECExchange(startingWith first: [UInt8], on pty: PseudoTerminal, assembler: inout FrameAssembler) {
        guard let iec = iecLine else { return }
        var input = first
        var arrival = MonotonicInstant.now()
        var wireEnd = arrival
        while true {
            let listening = lock.withLock { iec.server.listeningBaud }
            let inCharacter = Self.iecCharacterNanoseconds(baud: listening)
            for _ in input { wireEnd = max(arrival, wireEnd).adding(nanoseconds: inCharacter) }
            let now = configuration.clock.now()
            let replies: [IECReply] = lock.withLock {
                guard let characters = iec.characters(input) else { return [] }
                return iec.server.receive(characters, at: now)
            }
            for reply in replies {
                let bytes = iec.wireBytes(Array(reply.characters.prefix(reply.stallAfter ?? reply.characters.count)))
                let character = Self.iecCharacterNanoseconds(baud: reply.baud)
                let start = wireEnd.adding(nanoseconds: Int64(reply.reactionMilliseconds) * 1_000_000)
                let outcome = transmit(bytes, startingAt: start, on: pty, assembler: &assembler, characterNanoseconds: character) { [servedLog] in
                    if let record = reply.record { servedLog?.append(record) }
                }
                guard outcome == .reached else {
                    lock.withLock { iec.server.reset() }
                    logger.info("IEC answer cut", metadata: ["reason": "\(outcome == .collision ? "collision" : "port-closed")"])
                    return
                }
                if reply.record != nil { lock.withLock { answered += 1 } }
                wireEnd = start.adding(nanoseconds: Int64(bytes.count) * character)
            }
            let (idle, patience) = lock.withLock { (iec.server.isIdle, iec.server.patience) }
            if idle { return }
            let deadline = MonotonicInstant.now().adding(nanoseconds: Int64(patience.components.seconds) * 1_000_000_000
                + patience.components.attoseconds / 1_000_000_000)
            switch waitForInput(pty, until: deadline) {
            case .input:
                input = pty.readAvailable()
                arrival = .now()
            case .wake:
                wake.drain()
                if lock.withLock({ stopRequested || vanishUntil != nil }) {
                    lock.withLock { iec.server.reset() }
                    return
                }
                input = []
            case .timeout:
                lock.withLock { iec.server.reset() }
                return
            }
        }
    }

    /// One 7E1 character (10 bits) at `baud`, in nanoseconds.
    static func iecCharacterNanoseconds(baud: Int) -> Int64 {
        LineSettings(baud: baud, dataBits: 7, parity: .even, stopBits: 1).characterNanoseconds
    }

    /// Sets the fault of the IEC meter at `address`.
    public func setIECFault(_ fault: IECMeterFault, for address: String) throws(SimulatorError) {
        guard let iec = iecLine else { throw .invalidSetup("no IEC meters on this line") }
        lock.lock()
        defer { lock.unlock() }
        try iec.server.setFault(fault, for: address)
    }

    /// Sets how far the IEC meter's clock at `address` runs ahead of the simulator's time.
    public func setIECClockOffset(address: String, seconds: Int64) throws(SimulatorError) {
        guard let iec = iecLine else { throw .invalidSetup("no IEC meters on this line") }
        lock.lock()
        defer { lock.unlock() }
        try iec.server.setClockOffset(address: address, seconds: seconds)
    }

    /// Sets the value of an IEC meter's error-code line (`iec-error ADDR RAW`).
    public func setIECErrorCode(address: String, raw: UInt32) throws(SimulatorError) {
        guard let iec = iecLine else { throw .invalidSetup("no IEC meters on this line") }
        lock.lock()
        defer { lock.unlock() }
        try iec.server.setErrorCode(address: address, raw: raw)
    }

    /// The IEC meter at `address` as it is now (clock offset included), or nil.
    public func iecMeter(at address: String) -> IECSimulatedMeter? {
        guard let iec = iecLine else { return nil }
        return lock.withLock { iec.server.meters[address] }
    }

    /// Whether the current PTY carries 7E1 with software parity (nil: no IEC meters, or no PTY yet).
    public var iecUsesSoftwareParity: Bool? {
        guard let iec = iecLine else { return nil }
        return lock.withLock { iec.softwareParity != nil }
    }
}

