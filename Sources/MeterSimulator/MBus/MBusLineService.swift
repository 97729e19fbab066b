import ConcentratorCore
import MeterProtocols

/// The wired M-Bus slaves one simulated line carries (`meter-sim --mbus …`).
public struct MBusSegmentSetup: Hashable, Sendable {
    /// At most 250 primary addresses; a segment may carry more slaves by secondary address.
    public static let maximumSlaves = 250

    public var slaves: [MBusSlaveSetup]
    /// The level converter echoes each request.
    public var echo: Bool

    public init(slaves: [MBusSlaveSetup], echo: Bool = false) {
        self.slaves = slaves
        self.echo = echo
    }

    func segment(seed: UInt64) throws(SimulatorError) -> MBusSimulatedSegment {
        guard !slaves.isEmpty, slaves.count <= Self.maximumSlaves else {
            throw .invalidSetup("\(slaves.count) M-Bus slaves; give 1–\(Self.maximumSlaves)")
        }
        var primaries = Set<UInt8>()
        var identities = Set<MBusIdentity>()
        for slave in slaves {
            if let p = slave.primaryAddress {
                guard MBusLinkAddress.primaryRange.contains(p) else { throw .invalidSetup("M-Bus primary address \(p) is not in 1-250") }
                guard primaries.insert(p).inserted else { throw .invalidSetup("M-Bus primary address \(p) is given twice") }
            }
            guard identities.insert(slave.identity).inserted else {
                throw .invalidSetup("M-Bus secondary address \(slave.identity.secondaryAddressText) is given twice")
            }
        }
        return MBusSimulatedSegment(slaves: slaves, seed: seed, echo: echo)
    }
}

extension SimulatedBus {
    /// The M-Bus dispatch of the line loop: a request cut from the line (by silence) goes to the
    /// segment; its answer (echo, E5s, RSP_UD, or a collision's garble) is paced like any answer.
    func serveMBus(_ frame: ReceivedFrame, on pty: PseudoTerminal, assembler: inout FrameAssembler) {
        let now = configuration.clock.now()
        let answer: [UInt8] = lock.withLock {
            guard var segment = mbusSegment else { return [] }
            let bytes = segment.respond(to: frame.bytes, at: now)
            mbusSegment = segment
            if !bytes.isEmpty { answered += 1 }
            return bytes
        }
        guard !answer.isEmpty else { return }
        // EN 13757-2: at least 11 bit times before the answer; the simulator waits 3 characters.
        let start = frame.end.adding(nanoseconds: 3 * configuration.line.characterNanoseconds)
        let outcome = transmit(answer, startingAt: start, on: pty, assembler: &assembler) {}
        if outcome != .reached { logger.info("M-Bus answer cut", metadata: ["reason": "\(outcome)"]) }
    }
}
