import ConcentratorCore

/// How far a scan has come, for the console's progress bar.
public struct MBusScanProgress: Hashable, Sendable {
    /// 0…1: the share of the address space whose subtrees are finished.
    public var fractionDone: Double
    public var probes: Int
    public var found: Int
}

/// What a secondary-address scan found.
public struct MBusScanResult: Hashable, Sendable {
    /// Every slave found, sorted.
    public var found: [MBusIdentity]
    /// Selections that still collided with every field given (two slaves with the same id, version
    /// and medium but different manufacturers): the installer must separate them by hand.
    public var unresolved: [MBusSecondaryAddress]
    public var probes: Int
}

/// The wildcard search for secondary addresses (EN 13757-3 annex, as libmbus and the M-Bus
/// usergroup describe it) as a `MeterSession`: select a mask; silence means nobody there; one
/// clean E5 means one slave, confirmed and identified by REQ_UD2; several E5s, noise or a garbled
/// RSP_UD mean a collision, and the search descends: each id digit from the left through 0–E (F is
/// the wildcard and cannot be selected as a digit), then the medium and the version bytes.
public struct MBusSecondaryScanSession: MeterSession {
    public typealias Outcome = MBusScanResult

    private struct Node {
        var address: MBusSecondaryAddress
        /// Share of the whole search this subtree stands for.
        var weight: Double
    }

    private enum Phase { case reset, select, confirm }

    private let options: MBusSessionOptions
    private let probeWait: AnswerWait
    private var stack: [Node]
    private var current: Node?
    private var phase = Phase.reset
    private var lineSent = false
    private var splitter = MBusFrameSplitter()
    private var echo = MBusEchoFilter()
    private var acknowledgements = 0
    private var garbled = false
    private var confirmed: MBusIdentity?
    private var found: Set<MBusIdentity> = []
    private var unresolved: [MBusSecondaryAddress] = []
    private var done = 0.0
    private var probes = 0

    /// `start` narrows the search (the default is the whole bus).
    public init(options: MBusSessionOptions = MBusSessionOptions(), start: MBusSecondaryAddress = .anyMeter) {
        self.options = options
        // A second slave may answer up to the latest allowed moment after the first one did.
        probeWait = AnswerWait(firstByteWithin: options.wait.firstByteWithin,
                               interCharacterGap: max(options.wait.firstByteWithin, options.wait.interCharacterGap))
        stack = [Node(address: start, weight: 1)]
    }

    public var progress: MBusScanProgress {
        MBusScanProgress(fractionDone: min(1, done), probes: probes, found: found.count)
    }

    public mutating func start() -> MeterSessionStep<MBusScanResult> {
        if options.resetFirst {
            phase = .reset
            return transmit(.short(control: MBusControl.sndNKE, address: MBusLinkAddress.network), wait: options.wait)
        }
        return nextProbe()
    }

    private mutating func transmit(_ frame: MBusFrame, wait: AnswerWait) -> MeterSessionStep<MBusScanResult> {
        let bytes = frame.encode()
        _ = splitter.reset()
        if options.stripEcho { echo.arm(with: bytes) }
        acknowledgements = 0
        garbled = false
        confirmed = nil
        let line: LineSettings? = lineSent ? nil : options.line
        lineSent = true
        return .transmit(bytes: bytes, line: line, wait: wait)
    }

    private mutating func nextProbe() -> MeterSessionStep<MBusScanResult> {
        guard let node = stack.popLast() else {
            done = 1
            return .finished(MBusScanResult(found: found.sorted(), unresolved: unresolved, probes: probes))
        }
        current = node
        phase = .select
        probes += 1
        return transmit(MBusSelection.frame(node.address), wait: probeWait)
    }

    public mutating func received(_ bytes: [UInt8]) -> MeterSessionStep<MBusScanResult> {
        let clean = options.stripEcho ? echo.filter(bytes) : bytes
        for event in splitter.push(clean) {
            switch (phase, event) {
            case (.select, .frame(.acknowledgement)), (.reset, .frame(.acknowledgement)):
                acknowledgements += 1
            case (.confirm, .frame(.long(let control, _, let ci, let data))) where MBusControl.isResponseWithData(control):
                if let header = try? MBusTransportHeader.parse([ci] + data, at: 0), let identity = header.identity {
                    if confirmed == nil, !garbled { confirmed = identity } else { garbled = true }
                } else {
                    garbled = true
                }
            default:
                garbled = true
            }
        }
        // Both wait the whole window: a later E5 or a second RSP_UD means a collision.
        return .awaitMore
    }

    public mutating func timedOut() -> MeterSessionStep<MBusScanResult> {
        if (options.stripEcho && !echo.release().isEmpty) || !splitter.reset().isEmpty { garbled = true }
        switch phase {
        case .reset:
            return nextProbe()
        case .select:
            guard let node = current else { return nextProbe() }
            if acknowledgements == 0 && !garbled {
                done += node.weight
                return nextProbe()
            }
            if acknowledgements == 1 && !garbled {
                phase = .confirm
                return transmit(.short(control: MBusControl.reqUD2 | MBusControl.fcb, address: MBusLinkAddress.network), wait: options.wait)
            }
            return descend(node)
        case .confirm:
            return settleConfirmation()
        }
    }

    private mutating func settleConfirmation() -> MeterSessionStep<MBusScanResult> {
        guard let node = current else { return nextProbe() }
        if let identity = confirmed, !garbled, node.address.matches(identity) {
            found.insert(identity)
            done += node.weight
            return nextProbe()
        }
        if confirmed == nil, !garbled {
            // The E5 was heard but nobody sent data: count the subtree as done rather than loop.
            done += node.weight
            return nextProbe()
        }
        return descend(node)
    }

    /// Replaces a colliding node by its children, the next unspecified field narrowed.
    private mutating func descend(_ node: Node) -> MeterSessionStep<MBusScanResult> {
        var children: [MBusSecondaryAddress] = []
        if let position = node.address.digits.firstIndex(where: { $0 == nil }) {
            for digit in UInt8(0)...0xE {
                var a = node.address
                a.digits[position] = digit
                children.append(a)
            }
        } else if node.address.medium == nil {
            for medium in UInt8(0)...0xFE {
                var a = node.address
                a.medium = medium
                children.append(a)
            }
        } else if node.address.version == nil {
            for version in UInt8(0)...0xFE {
                var a = node.address
                a.version = version
                children.append(a)
            }
        } else {
            unresolved.append(node.address)
            done += node.weight
            return nextProbe()
        }
        let weight = node.weight / Double(children.count)
        stack += children.reversed().map { Node(address: $0, weight: weight) }
        return nextProbe()
    }
}

/// What a primary-address scan found.
public struct MBusPrimaryScanResult: Hashable, Sendable {
    /// Addresses that acknowledged SND_NKE with one clean E5.
    public var present: [UInt8]
    /// Addresses whose answer was garbled or doubled: two slaves share the address.
    public var collisions: [UInt8]
}

/// Probes primary addresses one by one (SND_NKE, expecting E5) as a `MeterSession`; answers that
/// are garbled are reported as collisions (two slaves with one address).
public struct MBusPrimaryScanSession: MeterSession {
    public typealias Outcome = MBusPrimaryScanResult

    private let addresses: [UInt8]
    private let options: MBusSessionOptions
    private var index = 0
    private var lineSent = false
    private var splitter = MBusFrameSplitter()
    private var echo = MBusEchoFilter()
    private var acknowledgements = 0
    private var garbled = false
    private var present: [UInt8] = []
    private var collisions: [UInt8] = []

    public init(addresses: [UInt8] = Array(MBusLinkAddress.primaryRange), options: MBusSessionOptions = MBusSessionOptions()) {
        self.addresses = addresses
        self.options = options
    }

    /// Share of the addresses probed.
    public var fractionDone: Double { addresses.isEmpty ? 1 : Double(index) / Double(addresses.count) }

    public mutating func start() -> MeterSessionStep<Outcome> { probe() }

    private mutating func probe() -> MeterSessionStep<Outcome> {
        guard index < addresses.count else { return .finished(MBusPrimaryScanResult(present: present, collisions: collisions)) }
        let bytes = MBusFrame.short(control: MBusControl.sndNKE, address: addresses[index]).encode()
        _ = splitter.reset()
        if options.stripEcho { echo.arm(with: bytes) }
        acknowledgements = 0
        garbled = false
        let line: LineSettings? = lineSent ? nil : options.line
        lineSent = true
        return .transmit(bytes: bytes, line: line, wait: options.wait)
    }

    public mutating func received(_ bytes: [UInt8]) -> MeterSessionStep<Outcome> {
        for event in splitter.push(options.stripEcho ? echo.filter(bytes) : bytes) {
            if case .frame(.acknowledgement) = event { acknowledgements += 1 } else { garbled = true }
        }
        return .awaitMore
    }

    public mutating func timedOut() -> MeterSessionStep<Outcome> {
        if (options.stripEcho && !echo.release().isEmpty) || !splitter.reset().isEmpty { garbled = true }
        if acknowledgements == 1 && !garbled { present.append(addresses[index]) } else if acknowledgements > 0 || garbled {
            collisions.append(addresses[index])
        }
        index += 1
        return probe()
    }
}
