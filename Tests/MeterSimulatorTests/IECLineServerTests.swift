import Foundation
import Testing
import ConcentratorCore
import MeterProtocols
import TestSupport
@testable import MeterSimulator

/// Connects a `MeterSession` to the simulated IEC meters in memory: what the session transmits goes
/// to `IECLineServer.receive` only when the client's rate is the rate the server listens at (a meter
/// at 300 baud hears noise from a client at 9600), and a reply reaches the session only at the rate
/// it was sent at. Simulator time advances with pauses and reaction times.
struct InMemoryIECLine {
    var server: IECLineServer
    var time = Timestamp(seconds: 1_796_000_000)
    var clientBaud = 0
    var queued: [(bytes: [UInt8], baud: Int)] = []
    var sent: [[UInt8]] = []
    var replies: [IECReply] = []

    init(_ server: IECLineServer) { self.server = server }

    mutating func run<S: MeterSession>(_ session: inout S) -> Result<S.Outcome, MeterSessionError> {
        var step = session.start()
        for _ in 0..<10_000 {
            switch step {
            case .transmit(let bytes, let line, let wait):
                if let line { clientBaud = line.baud }
                sent.append(bytes)
                if clientBaud == server.listeningBaud {
                    for reply in server.receive(bytes, at: time) {
                        replies.append(reply)
                        time = time.adding(milliseconds: Int64(reply.reactionMilliseconds))
                        queued.append((Array(reply.characters.prefix(reply.stallAfter ?? reply.characters.count)), reply.baud))
                    }
                }
                step = wait == nil ? session.received([]) : deliver(&session)
            case .receive(let line, _):
                if let line { clientBaud = line.baud }
                step = deliver(&session)
            case .awaitMore:
                step = deliver(&session)
            case .pause(let d, let line):
                time = time.adding(milliseconds: Int64(d.components.seconds * 1000) + Int64(d.components.attoseconds / 1_000_000_000_000_000))
                if let line { clientBaud = line.baud }
                step = session.received([])
            case .finished(let outcome): return .success(outcome)
            case .failed(let error): return .failure(error)
            }
        }
        return .failure(MeterSessionError(.malformed, "in-memory line: the session did not end"))
    }

    private mutating func deliver<S: MeterSession>(_ session: inout S) -> MeterSessionStep<S.Outcome> {
        guard !queued.isEmpty else { return session.timedOut() }
        let reply = queued.removeFirst()
        #expect(reply.baud == clientBaud, "the reply at \(reply.baud) reached a client at \(clientBaud)")
        guard reply.baud == clientBaud else { return session.timedOut() }
        return session.received(reply.bytes)
    }
}

enum IECTestProfiles {
    static func shipped(_ id: String) throws -> MeterProfile {
        let path = BuiltProducts.profilesDirectory + "/" + id + ".json"
        return try MeterProfileLoader.parse(String(contentsOfFile: path, encoding: .utf8), source: path)
    }

    /// A mode C meter with everything: registers in kWh, kW and V, a settable clock, a 15-minute P.01.
    static func full(mode: IECProfileMode = .c) -> MeterProfile {
        let iec = IECProfile(mode: mode, maximumBaud: 9600, identification: IECIdentificationPattern(manufacturer: "SIM", identPrefix: "T1"),
                             passwordID: "p1",
                             registers: [IECRegisterSpec(obis: "1.8.0", quantity: "active_energy_import", unit: "kWh"),
                                         IECRegisterSpec(obis: "16.7.0", quantity: "active_power_total", unit: "kW", scale: 1000),
                                         IECRegisterSpec(obis: "32.7.0", quantity: "voltage_l1", unit: "V")],
                             clock: IECClockSpec(),
                             loadProfile: IECLoadProfileSpec(periodMinutes: 15, channels: [
                                IECProfileChannelSpec(obis: "1.8.0", quantity: "active_energy_import", unit: "kWh", kind: .counter),
                                IECProfileChannelSpec(obis: "1.29.0", quantity: "active_energy_import", unit: "kWh", kind: .delta)]))
        return MeterProfile(id: "sim-\(mode.rawValue.lowercased())", name: "test", manufacturer: "test", source: "test",
                            protocolKind: .iec62056_21, iec: iec)
    }

    static func server(_ addresses: [String], profile: MeterProfile = full(), password: String? = "12345678") throws -> IECLineServer {
        try IECLineServer(meters: addresses.map { a throws(SimulatorError) in
            try IECSimulatedMeter(setup: IECSimulatedMeterSetup(deviceAddress: a, profile: profile, password: password), seed: 3)
        })
    }
}

@Suite struct IECLineServerTests {
    static let password = Array("12345678".utf8)
    static func link(_ address: String, modes: [IECProtocolMode] = [.c]) -> IECLinkOptions {
        IECLinkOptions(deviceAddress: address, acceptedModes: modes)
    }

    @Test func onlyTheAddressedMeterAnswersTheSignOn() throws {
        var server = try IECTestProfiles.server(["00000001", "00000002"])
        let t = Timestamp(seconds: 1_796_000_000)
        let replies = server.receive(Array("/?00000002!\r\n".utf8), at: t)
        #expect(replies.count == 1 && replies[0].baud == 300)
        #expect(String(decoding: replies[0].characters, as: UTF8.self) == "/SIM5T1-00000002\r\n")
        #expect(!server.isIdle && server.patience == .seconds(3))
        server.reset()
        #expect(server.receive(Array("/?00000009!\r\n".utf8), at: t).isEmpty, "nobody has that address")
        #expect(server.receive(Array("/?!\r\n".utf8), at: t).isEmpty, "an empty address on a line of two: nobody answers")
        #expect(server.isIdle)
        // Split anywhere, the request still wakes the meter.
        for cut in 1..<13 {
            server.reset()
            let bytes = Array("/?00000001!\r\n".utf8)
            #expect(server.receive(Array(bytes[..<cut]), at: t).isEmpty)
            #expect(server.receive(Array(bytes[cut...]), at: t).count == 1, "split at \(cut)")
        }
        #expect(IECLineServer.startsSignOn(Array("/?".utf8)) && !IECLineServer.startsSignOn([0x2F, 0x03]))
    }

    @Test func readoutThroughTheSessionMatchesWhatWasServed() throws {
        var line = InMemoryIECLine(try IECTestProfiles.server(["00000001", "00000002"]))
        var session = IECReadoutSession(link: Self.link("00000002"))
        let readout = try line.run(&session).get()
        #expect(readout.baud == 9600 && readout.identification.ident == "T1-00000002")
        let profile = IECTestProfiles.full()
        let values = IECValueMapping.values(readout.data, registers: profile.iec!.registers)
        let served = try #require(line.replies.compactMap(\.record).first)
        #expect(served.device == "00000002" && served.values?.count == 3)
        for v in served.values! {
            #expect(values.first { $0.quantity == v.quantity }?.value == v.value, "\(v.quantity)")
        }
        #expect(values.allSatisfy { $0.error == nil })
        #expect(served.jsonLine.contains("\"device\":\"00000002\"") && !served.jsonLine.contains("\"slave\""))
        #expect(IECValueMapping.meterClock(readout.data, clock: IECClockSpec()) != nil)
        #expect(line.server.isIdle && line.server.listeningBaud == 300, "back at the sign-on rate")
    }

    @Test func programmingModeReadsAndSetsTheClock() throws {
        var line = InMemoryIECLine(try IECTestProfiles.server(["7"]))
        var read = IECSessions.readClock(link: Self.link("7"), password: Self.password, clock: IECClockSpec())
        let before = try line.run(&read).get()
        #expect(abs(before.civil.timestamp().seconds - line.time.seconds) <= 5, "the meter's clock follows the simulator's")
        #expect(line.server.isIdle, "the break ended programming mode")

        let target = IECMeterTime(CivilDateTime(year: 2030, month: 6, day: 1, hour: 12, minute: 30)!)
        var set = IECSessions.setClock(link: Self.link("7"), password: Self.password, clock: IECClockSpec(), to: target)
        #expect(try line.run(&set).get() == target)
        let meter = try #require(line.server.meters["7"])
        let reading = meter.meterTime(at: line.time)
        #expect(abs(reading.civil.timestamp().seconds - target.civil.timestamp().seconds) <= 5, "the meter now reads \(reading)")

        var wrong = IECSessions.readClock(link: Self.link("7"), password: Array("00000000".utf8), clock: IECClockSpec())
        guard case .failure(let e) = line.run(&wrong) else { Issue.record("a wrong password was taken"); return }
        #expect(e.kind == .security)
        #expect(line.server.isIdle)
    }

    @Test func loadProfileByRange() throws {
        var line = InMemoryIECLine(try IECTestProfiles.server(["7"]))
        let spec = IECTestProfiles.full().iec!.loadProfile!
        let zone = IECMeterClockZone.utc
        let to = zone.meterTime(at: line.time)
        let from = zone.meterTime(at: line.time.adding(seconds: -6 * 3600))
        var session = IECSessions.loadProfile(link: Self.link("7"), password: Self.password, spec: spec, from: from, to: to)
        let profile = try line.run(&session).get()
        #expect(profile.periodMinutes == 15)
        #expect((24...25).contains(profile.entries.count), "six hours of quarter hours: \(profile.entries.count)")
        let samples = IECValueMapping.samples(profile, spec: spec, zone: zone)
        // Period ends on quarter hours, 15 minutes apart; counters grow; each delta is the counter's step.
        #expect(samples.allSatisfy { $0.time.seconds % 900 == 0 })
        for (a, b) in zip(samples, samples.dropFirst()) {
            #expect(b.time.seconds - a.time.seconds == 900)
            let ca = a.values[0].value!, cb = b.values[0].value!
            #expect(cb >= ca)
            #expect(abs((cb - ca) - b.values[1].value!) < 0.0001)
        }
        // A range in the future has no entries: the meter answers (ERROR).
        let future = zone.meterTime(at: line.time.adding(seconds: 86_400))
        var empty = IECSessions.loadProfile(link: Self.link("7"), password: Self.password, spec: spec, from: future, to: nil)
        guard case .failure(let e) = line.run(&empty) else { Issue.record("future range answered"); return }
        #expect(e.kind == .refused)
    }

    func failure(_ fault: IECMeterFault, session make: () -> IECReadoutSession = { IECReadoutSession(link: IECLineServerTests.link("1")) })
        throws -> MeterSessionError? {
        var server = try IECTestProfiles.server(["1"])
        try server.setFault(fault, for: "1")
        var line = InMemoryIECLine(server)
        var session = make()
        if case .failure(let e) = line.run(&session) { return e }
        return nil
    }

    @Test func faultsBecomeTypedSessionErrors() throws {
        #expect(try failure(.silence)?.kind == .timeout)
        #expect(try failure(.badBCC)?.kind == .badCheck)
        #expect(try failure(.missingETX)?.kind == .malformed)
        let stall = try failure(.stall)
        #expect(stall?.kind == .timeout && stall?.detail.contains("stalled") == true)
        #expect(try failure(.slow(milliseconds: 700)) == nil, "slow answers still arrive")
        var server = try IECTestProfiles.server(["1"])
        try server.setFault(.slow(milliseconds: 700), for: "1")
        let ident = server.receive(Array("/?1!\r\n".utf8), at: Timestamp(seconds: 0))
        #expect(ident.first.map { $0.reactionMilliseconds >= 900 } == true)
        #expect(throws: SimulatorError.self) { try server.setFault(.badBCC, for: "99") }
    }

    @Test func aBadBCCInProgrammingModeIsRepeatedAfterNAK() throws {
        var server = try IECTestProfiles.server(["1"])
        let t = Timestamp(seconds: 1_796_000_000)
        _ = server.receive(Array("/?1!\r\n".utf8), at: t)
        _ = server.receive(Array("\u{06}051\r\n".utf8), at: t)
        #expect(server.listeningBaud == 9600)
        var p1 = IECCommandMessage.password(Self.password).encoded
        p1[p1.count - 1] ^= 0x01
        #expect(server.receive(p1, at: t).map(\.characters) == [[0x15]], "a bad BCC from the client: NAK")
        #expect(server.receive(IECCommandMessage.password(Self.password).encoded, at: t).map(\.characters) == [[0x06]])
        let answer = server.receive(IECCommandMessage(.r5, data: "1.8.0()").encoded, at: t)
        #expect(String(decoding: answer[0].characters, as: UTF8.self).hasPrefix("\u{02}1.8.0("))
        #expect(server.receive([0x15], at: t).map(\.characters) == answer.map(\.characters), "NAK: the same answer again")
        #expect(String(decoding: server.receive(IECCommandMessage(.r1, data: "99.99.99()").encoded, at: t)[0].characters, as: UTF8.self)
            == "\u{02}(ERROR)\u{03}" + String(decoding: [IECBlockCheck.compute(Array("(ERROR)\u{03}".utf8))], as: UTF8.self))
        #expect(server.receive(IECCommandMessage.exit.encoded, at: t).isEmpty && server.isIdle)
    }

    /// The break and the next sign-on can arrive in one read (the PTY delivers both writes at once):
    /// the meter leaves programming mode and the next meter still hears its request.
    @Test func aBreakAndTheNextSignOnInOneRead() throws {
        var server = try IECTestProfiles.server(["1", "2"])
        let t = Timestamp(seconds: 1_796_000_000)
        _ = server.receive(Array("/?1!\r\n".utf8), at: t)
        _ = server.receive(Array("\u{06}051\r\n".utf8), at: t)
        let replies = server.receive(IECCommandMessage.exit.encoded + Array("/?2!\r\n".utf8), at: t)
        #expect(replies.count == 1 && String(decoding: replies[0].characters, as: UTF8.self) == "/SIM5T1-2\r\n")
        #expect(replies[0].baud == 300)
    }

    @Test func modesBAndAMetersSendTheirDataWithoutAnOptionSelect() throws {
        for mode in [IECProfileMode.b, .a] {
            var line = InMemoryIECLine(try IECTestProfiles.server(["4"], profile: IECTestProfiles.full(mode: mode)))
            var session = IECReadoutSession(link: Self.link("4", modes: [.c, .b, .a]))
            let readout = try line.run(&session).get()
            #expect(readout.mode.rawValue == mode.rawValue && readout.baud == (mode == .b ? 9600 : 300))
            #expect(line.sent.count == 1, "mode \(mode.rawValue): only the request was sent")
        }
    }

    @Test func lemProfileMeterAnswersAnyAddressAtItsOpeningRate() throws {
        let lem = try IECTestProfiles.shipped("lem-em4tii-plus")
        var line = InMemoryIECLine(try IECTestProfiles.server(["03878504"], profile: lem, password: "00000000"))
        var session = IECReadoutSession(link: IECLinkOptions(deviceAddress: "1", profile: lem.iec!))
        let readout = try line.run(&session).get()
        #expect(readout.baud == 9600 && line.server.signOnBaud == 9600)
        #expect(IECValueMapping.values(readout.data, registers: lem.iec!.registers).allSatisfy { $0.error == nil })
    }

    @Test func setupIsChecked() throws {
        let p = IECTestProfiles.full()
        #expect(throws: SimulatorError.self) { try IECSimulatedMeter(setup: IECSimulatedMeterSetup(deviceAddress: "", profile: p), seed: 1) }
        #expect(throws: SimulatorError.self) { try IECSimulatedMeter(setup: IECSimulatedMeterSetup(deviceAddress: "1!", profile: p), seed: 1) }
        #expect(throws: SimulatorError.self) {
            try IECSimulatedMeter(setup: IECSimulatedMeterSetup(deviceAddress: "1", profile: p, password: "a(b"), seed: 1)
        }
        let modbus = MeterProfile(id: "m", name: "m", manufacturer: "m", source: "m", protocolKind: .modbus, modbus: ModbusRegisterMap(registers: []))
        #expect(throws: SimulatorError.self) { try IECSimulatedMeter(setup: IECSimulatedMeterSetup(deviceAddress: "1", profile: modbus), seed: 1) }
        #expect(throws: SimulatorError.self) { try IECTestProfiles.server(["1", "1"]) }
    }

    @Test func argumentsAndControlCommands() throws {
        #expect(try IECMeterRangeArgument.parse("00000001-00000003:iskraemeco-me162").addresses == ["00000001", "00000002", "00000003"])
        #expect(try IECMeterRangeArgument.parse("42:x").addresses == ["42"])
        for bad in ["1-0:x", "x:y", ":y", "1:", "1-100:x", "12345678901234567:x"] {
            #expect(throws: SimulatorArgumentError.self, "\(bad)") { try IECMeterRangeArgument.parse(bad) }
        }
        #expect(throws: SimulatorArgumentError.self) {
            try IECMeterRangeArgument.expand([try IECMeterRangeArgument.parse("1-2:a"), try IECMeterRangeArgument.parse("2:b")])
        }
        #expect(try IECFaultArgument.parse("00000003=bad-bcc") == IECFaultArgument(address: "00000003", fault: .badBCC))
        for text in ["none", "silence", "bad-bcc", "missing-etx", "stall", "slow:800"] {
            #expect(try IECMeterFault.parse(text).description == text)
        }
        #expect(throws: SimulatorArgumentError.self) { try IECMeterFault.parse("slow:0") }
        #expect(try ControlCommand.parse("iec-fault 00000003 stall") == .iecFault("00000003", .stall))
        #expect(try ControlCommand.parse("iec-clock 7 -300") == .iecClock("7", offsetSeconds: -300))
        #expect(throws: SimulatorArgumentError.self) { try ControlCommand.parse("iec-clock 7") }
    }
}
