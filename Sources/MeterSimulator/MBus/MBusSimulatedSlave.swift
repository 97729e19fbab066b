import ConcentratorCore
import MeterProtocols

/// How one simulated wired M-Bus slave is set up.
public struct MBusSlaveSetup: Hashable, Sendable {
    /// Primary address 1–250, or nil (reachable by secondary address only).
    public var primaryAddress: UInt8?
    public var identity: MBusIdentity
    /// The profile section its records follow.
    public var map: MBusRecordMap
    /// The readout is split over this many telegrams (DIF 1F "more records follow" between them).
    public var telegrams: Int
    /// Character times between the end of a request and the first byte of the answer.
    public var turnaroundCharacters: Int
    /// Status byte of the long header.
    public var status: UInt8

    public init(primaryAddress: UInt8?, identity: MBusIdentity, map: MBusRecordMap, telegrams: Int = 1,
                turnaroundCharacters: Int = 3, status: UInt8 = 0) {
        self.primaryAddress = primaryAddress
        self.identity = identity
        self.map = map
        self.telegrams = max(1, telegrams)
        self.turnaroundCharacters = max(0, turnaroundCharacters)
        self.status = status
    }
}

/// One wired M-Bus slave (EN 13757-2/-3): answers SND_NKE with E5, a matching secondary selection
/// with E5 (a non-matching one deselects it), REQ_UD2 with RSP_UD. The FCB decides between the next
/// telegram (toggled) and a repeat of the last (not toggled); after SND_NKE the next request starts
/// at the first telegram. Pure: time comes in with each request.
public struct MBusSimulatedSlave: Sendable {
    public let setup: MBusSlaveSetup
    public let model: MBusValueModel
    public private(set) var selected = false
    private var lastFCB: Bool?
    private var telegramIndex = 0
    private var lastAnswer: [UInt8]?
    private var accessNumber: UInt8

    public init(setup: MBusSlaveSetup, seed: UInt64) {
        self.setup = setup
        model = MBusValueModel(seed: SeededRandom.mix(seed ^ UInt64(setup.identity.number)))
        accessNumber = UInt8(truncatingIfNeeded: SeededRandom.mix(seed &+ UInt64(setup.identity.number)))
    }

    /// Requests answered with data so far.
    public private(set) var readouts = 0

    /// Whether a frame to `address` is for this slave.
    private func addressed(_ address: UInt8) -> Bool {
        if address == MBusLinkAddress.network { return selected }
        if address == MBusLinkAddress.broadcastWithReply { return true }
        return setup.primaryAddress == address
    }

    /// The answer to one request frame (nil: stay silent).
    public mutating func respond(to frame: MBusFrame, at time: Timestamp) -> [UInt8]? {
        switch frame {
        case .short(let control, let address) where control & 0x4F == MBusControl.sndNKE:
            guard addressed(address) || (address == MBusLinkAddress.broadcast) else { return nil }
            lastFCB = nil
            telegramIndex = 0
            lastAnswer = nil
            if address == MBusLinkAddress.network { selected = false }
            return address == MBusLinkAddress.broadcast ? nil : MBusFrame.acknowledgement.encode()
        case .long(let control, MBusLinkAddress.network, MBusCI.selectSecondary, let data) where control & 0x4F == 0x43:
            guard let wanted = MBusSelection.address(fromData: data) else { return nil }
            selected = wanted.matches(setup.identity)
            if selected {
                lastFCB = nil
                telegramIndex = 0
                lastAnswer = nil
            }
            return selected ? MBusFrame.acknowledgement.encode() : nil
        case .short(let control, let address) where control & 0x4F == 0x4B:
            guard addressed(address) else { return nil }
            let fcv = control & MBusControl.fcv != 0
            let fcb = control & MBusControl.fcb != 0
            if fcv, let last = lastFCB, last == fcb, let lastAnswer { return lastAnswer }
            if fcv { lastFCB = fcb }
            let answer = telegram(at: time)
            lastAnswer = answer
            readouts += 1
            return answer
        default:
            return nil
        }
    }

    /// The RSP_UD for the current telegram index, advancing it.
    private mutating func telegram(at time: Timestamp) -> [UInt8] {
        let records = MBusRecordEncoder.records(for: setup.map, model: model, at: time)
        let count = setup.telegrams
        // Split at record boundaries into `count` parts of about equal size.
        let parts = Self.split(records, parts: count)
        let index = telegramIndex % parts.count
        let more = index < parts.count - 1
        telegramIndex = more ? index + 1 : 0
        accessNumber &+= 1
        var data = MBusTransportHeader.encode(setup.identity)
        data += [accessNumber, setup.status, 0x00, 0x00]
        data += parts[index]
        if more { data.append(0x1F) }
        return MBusFrame.long(control: MBusControl.rspUD, address: setup.primaryAddress ?? 0, ci: MBusCI.responseLongHeader,
                              data: data).encode()
    }

    /// Splits encoded records at record starts into at most `parts` groups.
    static func split(_ records: [UInt8], parts: Int) -> [[UInt8]] {
        guard parts > 1, let block = try? MBusRecordDecoder.decode(records), block.records.count > 1 else { return [records] }
        let starts = block.records.map(\.offset) + [records.count]
        let perPart = max(1, (block.records.count + parts - 1) / parts)
        var out: [[UInt8]] = []
        var i = 0
        while i < block.records.count {
            let j = min(block.records.count, i + perPart)
            out.append(Array(records[starts[i]..<starts[j]]))
            i = j
        }
        return out
    }
}

/// A wired M-Bus segment behind one level converter: every slave hears every request; the answers
/// of several slaves overlap on the line. Each answer starts its slave's turnaround after the
/// request; where answers overlap, the bus carries the AND of the bytes (a slave modulates its
/// current for a 0 bit, so any slave sending a space makes a space), which garbles differing bytes
/// and merges identical E5s sent at the same instant into one. Bytes in, bytes out: no PTY needed.
public struct MBusSimulatedSegment: Sendable {
    public private(set) var slaves: [MBusSimulatedSlave]
    /// The level converter echoes each request before the answers.
    public var echo: Bool

    public init(slaves: [MBusSlaveSetup], seed: UInt64 = 1, echo: Bool = false) {
        self.slaves = slaves.map { MBusSimulatedSlave(setup: $0, seed: seed) }
        self.echo = echo
    }

    /// What the master reads after writing `request` (possibly nothing). An unreadable request is
    /// ignored by every slave (a real slave sees a checksum error and stays silent).
    public mutating func respond(to request: [UInt8], at time: Timestamp) -> [UInt8] {
        let prefix = echo ? request : []
        guard let frame = try? MBusFrame.decode(request) else { return prefix }
        var answers: [(offset: Int, bytes: [UInt8])] = []
        for i in slaves.indices {
            if let bytes = slaves[i].respond(to: frame, at: time) {
                answers.append((slaves[i].setup.turnaroundCharacters, bytes))
            }
        }
        return prefix + Self.superpose(answers)
    }

    /// Overlays answers by their start offsets (in character times): overlapping bytes are ANDed,
    /// idle character slots between answers carry nothing.
    static func superpose(_ answers: [(offset: Int, bytes: [UInt8])]) -> [UInt8] {
        guard answers.count > 1 else { return answers.first?.bytes ?? [] }
        let end = answers.map { $0.offset + $0.bytes.count }.max() ?? 0
        var slots = [UInt8?](repeating: nil, count: end)
        for answer in answers {
            for (i, b) in answer.bytes.enumerated() {
                let p = answer.offset + i
                slots[p] = slots[p].map { $0 & b } ?? b
            }
        }
        return slots.compactMap { $0 }
    }
}
