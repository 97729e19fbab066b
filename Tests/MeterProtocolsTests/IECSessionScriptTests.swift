import Testing
import ConcentratorCore
@testable import MeterProtocols

/// Drives a `MeterSession` against a scripted meter, as the bus owner would: transmit steps go to the
/// script, which may queue a reply; replies are delivered in chunks of `chunk` bytes; an empty queue
/// on a wait is a timeout. Records what was sent, every pause and line switch.
struct ScriptedLine {
    enum Event: Equatable {
        case sent([UInt8])
        case pause(Duration)
        case line(Int)
        case delivered(Int, atBaud: Int)
        case timeout
    }

    var events: [Event] = []
    var baud = 0
    var pending: [UInt8] = []
    var chunk = Int.max

    /// Runs `session` until it finishes or fails; `meter` answers each message sent (nil: silence).
    mutating func run<S: MeterSession>(_ session: inout S, meter: ([UInt8]) -> [UInt8]?) -> Result<S.Outcome, MeterSessionError> {
        var step = session.start()
        for _ in 0..<100_000 {
            switch step {
            case .transmit(let bytes, let line, let wait):
                if let line { switchLine(line) }
                events.append(.sent(bytes))
                if let reply = meter(bytes) { pending += reply }
                step = wait == nil ? session.received([]) : deliver(&session)
            case .receive(let line, _):
                if let line { switchLine(line) }
                step = deliver(&session)
            case .awaitMore:
                step = deliver(&session)
            case .pause(let d, let line):
                events.append(.pause(d))
                if let line { switchLine(line) }
                step = session.received([])
            case .finished(let outcome):
                return .success(outcome)
            case .failed(let error):
                return .failure(error)
            }
        }
        return .failure(MeterSessionError(.malformed, "script: the session did not end"))
    }

    private mutating func switchLine(_ line: LineSettings) {
        baud = line.baud
        events.append(.line(line.baud))
        #expect(line.dataBits == 7 && line.parity == .even && line.stopBits == 1, "IEC lines are 7E1")
    }

    private mutating func deliver<S: MeterSession>(_ session: inout S) -> MeterSessionStep<S.Outcome> {
        guard !pending.isEmpty else {
            events.append(.timeout)
            return session.timedOut()
        }
        let n = min(chunk, pending.count)
        let piece = Array(pending.prefix(n))
        pending.removeFirst(n)
        events.append(.delivered(n, atBaud: baud))
        return session.received(piece)
    }

    var sent: [[UInt8]] { events.compactMap { if case .sent(let b) = $0 { return b } else { return nil } } }
    var pauses: [Duration] { events.compactMap { if case .pause(let d) = $0 { return d } else { return nil } } }
}

/// A meter that answers a fixed conversation: each step is the message it expects and its reply.
final class ScriptedMeter {
    var steps: [(expect: [UInt8], reply: [UInt8]?)]
    var unexpected: [[UInt8]] = []

    init(_ steps: [(expect: [UInt8], reply: [UInt8]?)]) { self.steps = steps }

    func answer(_ sent: [UInt8]) -> [UInt8]? {
        guard let first = steps.first, first.expect == sent else {
            unexpected.append(sent)
            return nil
        }
        steps.removeFirst()
        return first.reply
    }
}

func text(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct IECSessionScriptTests {
    static let stx = "\u{02}", etx = "\u{03}", soh = "\u{01}"

    // MARK: - Readout, mode C

    /// [ME162] sign-on, identification, ACK 0 5 0, the data message at 9600 (wdoekes/pe32me162ir_pub).
    @Test func readsTheME162ReadoutInModeC() throws {
        let me162 = ScriptedMeter([(text("/?!\r\n"), IECVectors.me162Identification), (text("\u{06}050\r\n"), IECVectors.me162Readout)])
        var line = ScriptedLine()
        var session = IECReadoutSession(link: IECLinkOptions(deviceAddress: ""))
        let readout = try line.run(&session, meter: me162.answer).get()
        #expect(me162.steps.isEmpty && me162.unexpected.isEmpty)
        #expect(readout.identification.description == "/ISK5ME162-0033" && readout.mode == .c && readout.baud == 9600)
        #expect(readout.data.first(try OBISCode.parse("1.8.0"))?.values == [IECValue("0032907.841", unit: "kWh")])
        // Sign-on at 300; the ACK after the 200 ms reaction time; 7 characters at 300 baud (233.34 ms)
        // before the switch to 9600; the data message read at 9600.
        #expect(line.events.first == .line(300))
        #expect(line.pauses == [.milliseconds(200), .microseconds(233_334)])
        #expect(line.events.contains(.line(9600)))
        #expect(line.events.last == .delivered(IECVectors.me162Readout.count, atBaud: 9600))
    }

    @Test func theReadoutSurvivesEveryChunkSize() throws {
        for chunk in 1...IECVectors.me162Readout.count {
            let me162 = ScriptedMeter([(text("/?!\r\n"), IECVectors.me162Identification), (text("\u{06}050\r\n"), IECVectors.me162Readout)])
            var line = ScriptedLine()
            line.chunk = chunk
            var session = IECReadoutSession(link: IECLinkOptions(deviceAddress: ""))
            let readout = try line.run(&session, meter: me162.answer).get()
            #expect(readout.data.lines.count == 9, "chunk \(chunk)")
        }
    }

    @Test func addressedSignOnAndTheBaudLimit() throws {
        // The profile caps the rate at 4800: the ACK asks for '4' although the meter proposes '5'.
        let me162 = ScriptedMeter([(text("/?28342193!\r\n"), IECVectors.me162Identification), (text("\u{06}040\r\n"), IECVectors.me162Readout)])
        var line = ScriptedLine()
        var session = IECReadoutSession(link: IECLinkOptions(deviceAddress: "28342193", maximumBaud: 4800))
        let readout = try line.run(&session, meter: me162.answer).get()
        #expect(readout.baud == 4800 && me162.unexpected.isEmpty)
        #expect(line.events.contains(.line(4800)))
    }

    // MARK: - Modes A and B

    @Test func modeBSwitchesAtOnceAndSendsNothing() throws {
        let data = IECBlock(header: 0x02, body: text("1.8.0(12.5*kWh)\r\n!\r\n")).encoded
        let meter = ScriptedMeter([(text("/?7!\r\n"), text("/ABCE\\2MODELB\r\n") + data)])
        var line = ScriptedLine()
        var session = IECReadoutSession(link: IECLinkOptions(deviceAddress: "7", acceptedModes: [.c, .b]))
        // The meter's data comes at the new rate only after the switch: deliver the identification alone.
        line.chunk = 15
        let readout = try line.run(&session, meter: meter.answer).get()
        #expect(readout.mode == .b && readout.baud == 9600)
        #expect(line.sent == [text("/?7!\r\n")], "mode B: no option select")
        #expect(line.events.contains(.line(9600)))
    }

    @Test func modeADataFollowsTheIdentificationAtTheSameRate() throws {
        let data = IECBlock(header: 0x02, body: text("1.8.0(12.5*kWh)\r\n!\r\n")).encoded
        let meter = ScriptedMeter([(text("/?!\r\n"), text("/ABC:MODELA\r\n") + data)])
        var line = ScriptedLine()
        var session = IECReadoutSession(link: IECLinkOptions(deviceAddress: "", acceptedModes: [.a]))
        let readout = try line.run(&session, meter: meter.answer).get()
        #expect(readout.mode == .a && readout.baud == 300 && readout.data.sets.count == 1)
        #expect(line.sent.count == 1 && !line.events.contains(.line(9600)))
    }

    @Test func aModeTheProfileDoesNotAcceptIsAnError() {
        let meter = ScriptedMeter([(text("/?!\r\n"), text("/ABCE\\2MODELB\r\n"))])
        var line = ScriptedLine()
        var session = IECReadoutSession(link: IECLinkOptions(deviceAddress: ""))
        guard case .failure(let e) = line.run(&session, meter: meter.answer) else { Issue.record("accepted mode B"); return }
        #expect(e.kind == .malformed && e.detail.contains("mode B"))
    }

    // MARK: - Readout failures

    func readoutFailure(_ data: [UInt8], chunk: Int = .max) -> MeterSessionError? {
        let meter = ScriptedMeter([(text("/?1!\r\n"), IECVectors.me162Identification), (text("\u{06}050\r\n"), data)])
        var line = ScriptedLine()
        line.chunk = chunk
        var session = IECReadoutSession(link: IECLinkOptions(deviceAddress: "1"))
        if case .failure(let e) = line.run(&session, meter: meter.answer) { return e }
        return nil
    }

    @Test func aWrongBCCAMissingETXAndAStalledLineAreTypedErrors() {
        var badBCC = IECVectors.me162Readout
        badBCC[badBCC.count - 1] ^= 0x01
        #expect(readoutFailure(badBCC)?.kind == .badCheck)
        let noETX = readoutFailure(Array(IECVectors.me162Readout.dropLast(2)))
        #expect(noETX?.kind == .malformed && noETX?.detail.contains("no ETX") == true)
        let stalled = readoutFailure(Array(IECVectors.me162Readout.prefix(50)))
        #expect(stalled?.kind == .timeout && stalled?.detail.contains("stalled after 50 bytes") == true)
        #expect(readoutFailure([])?.kind == .timeout)
        #expect(readoutFailure(IECVectors.me162Identification)?.kind == .malformed, "a line where the data belongs")
        for chunk in [1, 7] { #expect(readoutFailure(badBCC, chunk: chunk)?.kind == .badCheck) }
    }

    @Test func noIdentificationOrGarbageInsteadOfOne() {
        var line = ScriptedLine()
        var silent = IECReadoutSession(link: IECLinkOptions(deviceAddress: "9"))
        guard case .failure(let e) = line.run(&silent, meter: { _ in nil }) else { Issue.record("no failure"); return }
        #expect(e.kind == .timeout && e.detail.contains("meter \"9\""))
        var line2 = ScriptedLine()
        var garbled = IECReadoutSession(link: IECLinkOptions(deviceAddress: "9"))
        guard case .failure(let e2) = line2.run(&garbled, meter: { _ in [0x41, 0x42] }) else { Issue.record("no failure"); return }
        #expect(e2.kind == .malformed)
        var line3 = ScriptedLine()
        var cut = IECReadoutSession(link: IECLinkOptions(deviceAddress: "9"))
        guard case .failure(let e3) = line3.run(&cut, meter: { _ in text("/ISK5ME") }) else { Issue.record("no failure"); return }
        #expect(e3.kind == .timeout && e3.detail.contains("stalled"))
    }

    // MARK: - Programming mode

    /// [LEM] §4.2.9 example 2, byte for byte: every message the session sends is the documented one.
    @Test func readsTheClockExactlyAsTheLEMManualShows() throws {
        let s = Self.self
        let lem = ScriptedMeter([
            (text("/?!\r\n"), IECVectors.lemIdentification),
            (text("\u{06}051\r\n"), IECVectors.lemMessages[0].1),
            (IECVectors.lemMessages[1].1, [0x06]),
            (IECVectors.lemMessages[2].1, IECVectors.lemMessages[3].1),
            (IECVectors.lemMessages[4].1, IECVectors.lemMessages[5].1),
            (text(s.soh + "B0" + s.etx + "q"), nil),
        ])
        var signOn = IECTiming.signOnLine
        signOn.baud = 9600
        var line = ScriptedLine()
        var session = IECSessions.readClock(link: IECLinkOptions(deviceAddress: "", signOnLine: signOn), password: text("00000000"),
                                            clock: IECClockSpec())
        let clock = try line.run(&session, meter: lem.answer).get()
        #expect(lem.steps.isEmpty && lem.unexpected.isEmpty, "every documented message sent in order")
        #expect(clock.civil.description == "2013-01-03 10:14:15")
        #expect(line.events.first == .line(9600) && !line.events.dropFirst().contains(.line(300)))
    }

    /// [ME162] programming mode without a password: after P0 the reads go out at once; the meter
    /// NAKs each read once (as in the capture) and the session repeats it.
    @Test func repeatsReadsAfterANAKAndSkipsP1WithoutAPassword() throws {
        let m = IECVectors.me162Messages
        let s = Self.self
        let me162 = ScriptedMeter([
            (text("/?!\r\n"), IECVectors.me162Identification),
            (text("\u{06}051\r\n"), IECVectors.lemMessages[0].1),
            (m[0].1, [0x15]), (m[0].1, m[1].1),
            (m[2].1, [0x15]), (m[2].1, m[3].1),
            (text(s.soh + "B0" + s.etx + "q"), nil),
        ])
        var line = ScriptedLine()
        var session = IECProgrammingSession(link: IECLinkOptions(deviceAddress: ""), password: nil,
                                            commands: [IECCommandMessage(.r1, data: "1.8.0()"), IECCommandMessage(.r1, data: "2.8.0()")])
        let transcript = try line.run(&session, meter: me162.answer).get()
        #expect(me162.steps.isEmpty && me162.unexpected.isEmpty)
        guard case .data(let first) = transcript.answers[0], case .data(let second) = transcript.answers[1] else {
            Issue.record("no data answers"); return
        }
        #expect(first.sets == [IECDataSet(address: nil, values: [IECValue("0032907.842", unit: "kWh")])])
        #expect(second.sets.first?.values.first?.number == 0.001)
    }

    func programmingFailure(_ steps: [(expect: [UInt8], reply: [UInt8]?)], password: [UInt8]? = text("00000000"),
                            commands: [IECCommandMessage] = [IECCommandMessage(.r5, data: "0.9.2()")]) -> (MeterSessionError?, [[UInt8]]) {
        let meter = ScriptedMeter([(text("/?5!\r\n"), IECVectors.me162Identification), (text("\u{06}051\r\n"), IECVectors.lemMessages[0].1)] + steps)
        var line = ScriptedLine()
        var session = IECProgrammingSession(link: IECLinkOptions(deviceAddress: "5"), password: password, commands: commands)
        if case .failure(let e) = line.run(&session, meter: meter.answer) { return (e, line.sent) }
        return (nil, line.sent)
    }

    static let breakMessage = text("\u{01}B0\u{03}q")

    @Test func aRefusedPasswordIsASecurityFailure() {
        let p1 = IECVectors.lemMessages[1].1
        // The meter breaks off: no break of ours follows.
        let (broken, sent) = programmingFailure([(p1, Self.breakMessage)])
        #expect(broken?.kind == .security && sent.last == p1)
        // An error message, or silence: the session sends the break before it fails.
        let (refused, sent2) = programmingFailure([(p1, IECBlock(header: 0x02, body: text("(ERROR)")).encoded)])
        #expect(refused?.kind == .security && sent2.last == Self.breakMessage)
        let (silent, sent3) = programmingFailure([(p1, nil)])
        #expect(silent?.kind == .security && sent3.last == Self.breakMessage)
        #expect(!(refused?.description.contains("00000000") ?? true), "the password never shows")
    }

    @Test func readErrorsNAKLimitsAndBadBCCs() {
        let p1 = IECVectors.lemMessages[1].1
        let r5 = IECVectors.lemMessages[2].1
        let answer = IECVectors.lemMessages[3].1
        // (ERROR) to a read: refused, then the break.
        let (error, sent) = programmingFailure([(p1, [0x06]), (r5, IECBlock(header: 0x02, body: text("(ERROR)")).encoded)])
        #expect(error?.kind == .refused && error?.detail.contains("ERROR") == true && sent.last == Self.breakMessage)
        // A NAK to every try: the original and three repeats, then refused.
        let naks = [(p1, [UInt8]([0x06]))] + Array(repeating: (r5, [UInt8]([0x15])), count: 4)
        let (nak, sent2) = programmingFailure(naks.map { (expect: $0.0, reply: Optional($0.1)) })
        #expect(nak?.kind == .refused && sent2.filter { $0 == r5 }.count == 4 && sent2.last == Self.breakMessage)
        // A bad BCC in the answer: the session sends NAK and takes the repeat.
        var bad = answer
        bad[bad.count - 1] ^= 0x02
        let (ok, sent3) = programmingFailure([(p1, [0x06]), (r5, bad), ([0x15], answer), (Self.breakMessage, nil)])
        #expect(ok == nil && sent3.contains([0x15]))
        // Bad every time: badCheck after the repeats.
        let (badAlways, _) = programmingFailure([(p1, [0x06]), (r5, bad), ([0x15], bad), ([0x15], bad), ([0x15], bad)])
        #expect(badAlways?.kind == .badCheck)
        // The meter breaks off in the middle.
        let (aborted, _) = programmingFailure([(p1, [0x06]), (r5, Self.breakMessage)])
        #expect(aborted?.kind == .aborted)
        // Programming mode needs mode C.
        let meter = ScriptedMeter([(text("/?!\r\n"), text("/ABCE\\2MODELB\r\n"))])
        var line = ScriptedLine()
        var session = IECProgrammingSession(link: IECLinkOptions(deviceAddress: "", acceptedModes: [.b]), password: nil, commands: [])
        guard case .failure(let e) = line.run(&session, meter: meter.answer) else { Issue.record("programming in mode B"); return }
        #expect(e.kind == .refused)
    }

    @Test func partialBlocksAreAcknowledgedAndJoined() throws {
        let p1 = IECVectors.lemMessages[1].1
        let read = IECCommandMessage(.r6, data: "P.01(;)")
        let first = IECBlock(header: 0x02, body: text("P.01(0260101001500)(00)(15)(1)(1.8.0)(kWh)\r\n(1.0)\r\n"), isPartial: true).encoded
        let last = IECBlock(header: 0x02, body: text("(1.5)\r\n")).encoded
        let meter = ScriptedMeter([(text("/?!\r\n"), IECVectors.me162Identification), (text("\u{06}051\r\n"), IECVectors.lemMessages[0].1),
                                   (p1, [0x06]), (read.encoded, first), ([0x06], last), (Self.breakMessage, nil)])
        var line = ScriptedLine()
        var session = IECProgrammingSession(link: IECLinkOptions(deviceAddress: ""), password: text("00000000"), commands: [read])
        let transcript = try line.run(&session, meter: meter.answer).get()
        guard case .data(let block) = transcript.answers[0] else { Issue.record("no data"); return }
        #expect(try IECLoadProfile.decode(block).entries.map { $0.values[0] } == [1.0, 1.5])
    }

    // MARK: - Load profile and clock set

    /// [LEM] §4.2.1: "Request for load profile data from 31/1/2013, 08:00 to 1/2/2013, 08:00" is
    /// `R5 P.01(01301310800;01302010800)`.
    @Test func loadProfileByRange() throws {
        let spec = IECLoadProfileSpec(periodMinutes: 5, channels: [IECProfileChannelSpec(obis: "1.29.0", quantity: "active_energy_import", unit: "kWh", kind: .delta)])
        let request = text(Self.soh + "R5" + Self.stx + "P.01(01301310800;01302010800)" + Self.etx + "#")
        let answer = IECBlock(header: 0x02, body: text("P.01(0130131080500)(00000000)(5)(1)(1.29.0)(kWh)\r\n(0.125)\r\n(0.250)\r\n")).encoded
        let meter = ScriptedMeter([(text("/?!\r\n"), IECVectors.lemIdentification), (text("\u{06}051\r\n"), IECVectors.lemMessages[0].1),
                                   (IECVectors.lemMessages[1].1, [0x06]), (request, answer), (Self.breakMessage, nil)])
        let from = IECMeterTime(CivilDateTime(year: 2013, month: 1, day: 31, hour: 8)!, season: .standard)
        let to = IECMeterTime(CivilDateTime(year: 2013, month: 2, day: 1, hour: 8)!, season: .standard)
        var line = ScriptedLine()
        var session = IECSessions.loadProfile(link: IECLinkOptions(deviceAddress: ""), password: text("00000000"), spec: spec, from: from, to: to)
        let profile = try line.run(&session, meter: meter.answer).get()
        #expect(meter.unexpected.isEmpty && meter.steps.isEmpty)
        #expect(profile.entries.count == 2 && profile.periodMinutes == 5)
        let samples = IECValueMapping.samples(profile, spec: spec, zone: IECMeterClockZone(standardOffsetMinutes: 60))
        #expect(samples.map(\.values) == [[QuantityValue(quantity: "active_energy_import", value: 0.125)],
                                          [QuantityValue(quantity: "active_energy_import", value: 0.25)]])
        #expect(samples[0].time == CivilDateTime(year: 2013, month: 1, day: 31, hour: 7, minute: 5)!.timestamp())
    }

    @Test func setsTheClockWithTwoW1Writes() throws {
        let time = IECMeterTime(CivilDateTime(year: 2026, month: 12, day: 2, hour: 10, minute: 5, second: 30)!)
        let w1Time = IECCommandMessage(.w1, data: "0.9.1(100530)").encoded
        let w1Date = IECCommandMessage(.w1, data: "0.9.2(261202)").encoded
        let meter = ScriptedMeter([(text("/?3!\r\n"), IECVectors.me162Identification), (text("\u{06}051\r\n"), IECVectors.lemMessages[0].1),
                                   (IECVectors.lemMessages[1].1, [0x06]), (w1Time, [0x06]), (w1Date, [0x06]), (Self.breakMessage, nil)])
        var line = ScriptedLine()
        var session = IECSessions.setClock(link: IECLinkOptions(deviceAddress: "3"), password: text("00000000"), clock: IECClockSpec(), to: time)
        #expect(try line.run(&session, meter: meter.answer).get() == time)
        #expect(meter.steps.isEmpty && meter.unexpected.isEmpty)

        // Refused before anything is sent: near midnight, no password, no write command.
        let late = IECMeterTime(CivilDateTime(year: 2026, month: 12, day: 2, hour: 23, minute: 59, second: 55)!)
        for (password, clock, at) in [(text("x"), IECClockSpec(), late), (nil, IECClockSpec(), time),
                                      (text("x"), IECClockSpec(writeCommand: nil), time)] {
            var l = ScriptedLine()
            var s = IECSessions.setClock(link: IECLinkOptions(deviceAddress: "3"), password: password, clock: clock, to: at)
            guard case .failure = l.run(&s, meter: { _ in nil }) else { Issue.record("not refused"); continue }
            #expect(l.sent.isEmpty)
        }
    }

    @Test func aPasswordThePMessageCannotCarryIsRefused() {
        var line = ScriptedLine()
        var session = IECProgrammingSession(link: IECLinkOptions(deviceAddress: ""), password: text("ab)c"), commands: [])
        guard case .failure(let e) = line.run(&session, meter: { _ in nil }) else { Issue.record("accepted"); return }
        #expect(e.kind == .security && line.sent.isEmpty && !e.detail.contains("ab)c"))
    }

    // MARK: - Values through a profile

    @Test func readoutLinesBecomeValuesThroughTheRegisters() throws {
        var assembler = IECFrameAssembler(role: .client)
        assembler.append(IECVectors.me162Readout)
        guard case .block(let block)? = try assembler.next() else { Issue.record("no block"); return }
        let data = try IECDataBlock.parse(body: block.body, readout: true)
        let registers = [
            IECRegisterSpec(obis: "1.8.0", quantity: "active_energy_import", unit: "kWh"),
            IECRegisterSpec(obis: "2.8.0", quantity: "active_energy_export", unit: "Wh", scale: 0.001),
            IECRegisterSpec(obis: "1.8.2", quantity: "active_energy_import_t2", unit: "kWh", scale: 2),
            IECRegisterSpec(obis: "15.8.0", quantity: "active_energy_total", unit: "kWh"),
            IECRegisterSpec(obis: "F.F", quantity: "meter_uptime", unit: ""),
        ]
        #expect(IECValueMapping.values(data, registers: registers) == [
            QuantityValue(quantity: "active_energy_import", value: 32907.841),
            QuantityValue(quantity: "active_energy_export", error: .undecodableValue), // the meter says kWh, the profile Wh
            QuantityValue(quantity: "active_energy_import_t2", value: 65815.682),
            QuantityValue(quantity: "active_energy_total", error: .malformedResponse), // no such line
            QuantityValue(quantity: "meter_uptime", value: 0),
        ])
    }
}
