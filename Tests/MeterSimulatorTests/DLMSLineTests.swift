import Foundation
import Testing
import ConcentratorCore
import MeterProtocols
@testable import MeterSimulator
import Platform
import TestSupport

/// A DLMS meter and a Modbus meter on one simulated line (a real PTY with line timing): the
/// client sessions driven over the port as the bus owner will drive them, with a Modbus read in
/// the middle of an HLS association.
@Suite(.serialized) struct DLMSLineTests {
    /// Performs a session's steps on the PTY: write, then read under the step's wait.
    static func drive<S: MeterSession>(_ session: inout S, on fd: Int32) -> Result<S.Outcome, MeterSessionError> {
        driveSession(&session, send: { bytes in _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }, receive: { within in
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(within.components.seconds * 1000 + within.components.attoseconds / 1_000_000_000_000_000)
            guard poll(&pfd, 1, ms) > 0 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 512)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            return n > 0 ? Array(chunk[0..<n]) : nil
        })
    }

    @Test func hlsMeterAndModbusMeterShareTheLine() throws {
        let directory = TemporaryDirectory("meter-sim-dlms")
        var config = SimulatorConfiguration(line: LineSettings(baud: 38_400),
                                            meters: [SimulatedMeterSetup(address: 17, profile: DLMSTestProfiles.meter, turnaroundMilliseconds: 5...5),
                                                     SimulatedMeterSetup(address: 5, profile: TestProfiles.sdm630Like, turnaroundMilliseconds: 5...5)],
                                            linkPath: directory.file("bus1"), servedLogPath: directory.file("served.jsonl"))
        config.dlms.defaultKeys = DLMSTestProfiles.keys
        config.dlms.limits = DLMSMeterLimits(maxInfo: 64, window: 2, maxPDUSize: 256)
        let bus = try SimulatedBus(configuration: config)
        try bus.start()
        defer { bus.stop() }
        let client = try LineClient(path: directory.file("bus1"))

        let settings = DLMSClientSettings(clientAddress: 1, serverAddress: .server(logical: 1, physical: 17), security: DLMSTestProfiles.hls,
                                          hdlc: HDLCParameters(maxInfoTransmit: 128, maxInfoReceive: 128, windowTransmit: 1, windowReceive: 7))
        var associate = DLMSSession(DLMSAssociateConversation(challenge: Array("0123456789abcdef".utf8)),
                                    association: DLMSAssociation(settings: settings, invocationCounters: 1...100))
        var a = try Self.drive(&associate, on: client.fd).get().value
        #expect(a.associated && a.negotiated.maxInfoReceive == 64 && a.negotiated.windowReceive == 2)

        // The Modbus meter answers in the middle of the DLMS association.
        #expect(try client.readRegisters(slave: 5, start: 0, count: 2).count == 2)

        let plan = DLMSReadPlan(objects: DLMSTestProfiles.meter.dlms!.objects)
        var read = DLMSSession(DLMSServiceConversation(plan.operations), association: a)
        let outcome = try Self.drive(&read, on: client.fd).get()
        a = outcome.association
        let values = plan.values(from: outcome.value).values
        #expect(values.allSatisfy { $0.error == nil })

        // A day of 15-minute rows, block by block, a Modbus read between two blocks.
        let now = ISO8601.parse(ISO8601.format(SystemClock().now()))!
        var profile = DLMSProfileConversation(profile: COSEMLogicalName(1, 0, 99, 1, 0, 255),
                                              access: COSEMProfile.range(from: now.adding(seconds: -86_400), to: now))
        var rows: [[DLMSData]] = []
        var blocks = 0
        while true {
            var session = DLMSSession(profile, association: a)
            let chunk = try Self.drive(&session, on: client.fd).get()
            a = chunk.association
            rows += chunk.value.rows
            blocks += 1
            if blocks == 2 { _ = try client.readRegisters(slave: 5, start: 0, count: 2) }
            guard let next = chunk.value.continuation else { break }
            profile = DLMSProfileConversation(continuing: next)
        }
        #expect(blocks > 2)
        #expect((96...97).contains(rows.count))

        // The control channel works on DLMS meters too: the clock offset and the supply.
        #expect(bus.handleControlLine("clock 17 -300") == "ok clock 17 offset -300.0")
        #expect(bus.handleControlLine("coil 17 off") == "ok coil 17 off")
        #expect(bus.status().openRelays == [17] && bus.dlmsOutputState(address: 17) == false)
        var clockRead = DLMSSession(DLMSServiceConversation(DLMSOperations.readClock() + DLMSOperations.readDisconnectState()), association: a)
        let state = try Self.drive(&clockRead, on: client.fd).get()
        a = state.association
        let meterClock = try #require(DLMSOperations.clock(from: Array(state.value.prefix(1)))?.timestamp)
        #expect(abs(meterClock.milliseconds - SystemClock().now().adding(seconds: -300).milliseconds) < 5_000)
        #expect(DLMSOperations.disconnectState(from: state.value)?.connected == false)
        #expect(bus.handleControlLine("coil 17 on") == "ok coil 17 on")

        var release = DLMSSession(DLMSReleaseConversation(), association: a)
        _ = try Self.drive(&release, on: client.fd).get()

        let ics = try #require(bus.dlmsInvocationCounters(address: 17))
        #expect(ics.sorted() == Array(1...UInt32(ics.count)) && Set(ics).count == ics.count)
        let records = servedRecords(directory.file("served.jsonl"))
        #expect(records.contains { $0["slave"]?.intValue == 5 && $0["function"]?.intValue == 4 })
        let dlms = records.filter { $0["slave"]?.intValue == 17 }
        #expect(dlms.contains { $0["object"]?.stringValue == "1-0:1.8.0.255/2" && $0["values"]?["active_energy_import"] != nil })
        #expect(dlms.compactMap { $0["ic"]?.intValue }.count >= 4)
        // Each served value equals what the client decoded.
        for v in values {
            let served = dlms.last { $0["values"]?[v.quantity.rawValue] != nil }?["values"]?[v.quantity.rawValue]?.doubleValue
            #expect(served == v.value, "\(v.quantity)")
        }
    }

    @Test func badFCSFaultOnThePort() throws {
        let directory = TemporaryDirectory("meter-sim-dlms")
        let config = SimulatorConfiguration(line: LineSettings(baud: 38_400),
                                            meters: [SimulatedMeterSetup(address: 20, profile: DLMSTestProfiles.meter, turnaroundMilliseconds: 5...5)],
                                            linkPath: directory.file("bus1"), faults: [.meter(.slave(20), .badCRC)])
        let bus = try SimulatedBus(configuration: config)
        try bus.start()
        defer { bus.stop() }
        let client = try LineClient(path: directory.file("bus1"))
        var associate = DLMSSession(DLMSAssociateConversation(), association: DLMSAssociation(settings: DLMSTestProfiles.settings(.none, address: 20)))
        guard case .failure(let e) = Self.drive(&associate, on: client.fd) else { Issue.record("bad FCS accepted"); return }
        #expect(e.kind == .badCheck)
        // Slow answers: 200 ms more turnaround per answer, still within the client's wait.
        try bus.setFault(.slow(milliseconds: 200), for: .slave(20))
        let start = LineClient.monotonicMilliseconds()
        var slow = DLMSSession(DLMSAssociateConversation(), association: DLMSAssociation(settings: DLMSTestProfiles.settings(.none, address: 20)))
        #expect(try Self.drive(&slow, on: client.fd).get().value.associated)
        #expect(LineClient.monotonicMilliseconds() - start >= 400, "SNRM and AARQ each waited 200 ms more")
        try bus.setFault(.none, for: .slave(20))
        var again = DLMSSession(DLMSAssociateConversation(), association: DLMSAssociation(settings: DLMSTestProfiles.settings(.none, address: 20)))
        #expect(try Self.drive(&again, on: client.fd).get().value.associated)
    }
}

/// `--dlms-secrets FILE` and the DLMS fault.
@Suite struct DLMSArgumentTests {
    @Test func secretsFile() throws {
        var options = DLMSSimulatorOptions()
        try options.applySecretsFile("""
            # test meters
            password=12345678
            encryption-key=000102030405060708090A0B0C0D0E0F
            authentication-key = D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF
            """.replacingOccurrences(of: "authentication-key = ", with: "authentication-key="))
        #expect(options.defaultPassword == Array("12345678".utf8))
        #expect(options.defaultKeys == DLMSTestProfiles.keys)
        #expect(options.secrets(for: 17).systemTitle == [0x53, 0x49, 0x4D, 0, 0, 0, 0, 17])
        var broken = DLMSSimulatorOptions()
        #expect(throws: SimulatorArgumentError.self) { try broken.applySecretsFile("encryption-key=0001") }
        #expect(throws: SimulatorArgumentError.self) { try broken.applySecretsFile("encryption-key=000102030405060708090A0B0C0D0E0F") }
        do {
            try broken.applySecretsFile("token=000102030405060708090A0B0C0D0E0F")
            Issue.record("an unknown key was accepted")
        } catch {
            #expect(!error.description.contains("000102"), "the value stays out of the error")
        }
        #expect(try MeterFault.parse("drop-association") == .dropAssociation)
        #expect(MeterFault.dropAssociation.description == "drop-association")
    }
}

/// The `meter-sim` executable with a shipped DLMS profile, as scripts and the end-to-end tests start it.
@Suite(.serialized) struct DLMSExecutableTests {
    let binary = BuiltProducts.path("meter-sim")

    @Test func servesAShippedDLMSProfileWithHLS() throws {
        let dir = TemporaryDirectory("meter-sim-dlms-exe")
        let secrets = dir.file("dlms.secrets")
        try "encryption-key=000102030405060708090A0B0C0D0E0F\nauthentication-key=D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF\n"
            .write(toFile: secrets, atomically: true, encoding: .utf8)
        let link = dir.file("bus1")
        let sim = try ChildProcess(binary, ["--link", link, "--baud", "38400", "--meters", "17:landis-gyr-e450", "--meters", "5:eastron-sdm630",
                                            "--turnaround", "5", "--dlms-secrets", secrets, "--dlms-max-info", "64", "--dlms-window", "2",
                                            "--served-log", dir.file("served.jsonl")], directory: dir)
        defer { _ = sim.stop() }
        #expect(sim.waitForOutput("\n"))
        let client = try LineClient(path: link)
        let profile = try MeterProfileLoader.parse(try String(contentsOfFile: BuiltProducts.profilesDirectory + "/landis-gyr-e450.json", encoding: .utf8),
                                                   source: "landis-gyr-e450.json")
        let section = try #require(profile.dlms)
        let settings = DLMSClientSettings(clientAddress: section.clientAddress,
                                          serverAddress: .server(logical: section.logicalDevice, physical: 17), security: DLMSTestProfiles.hls)
        var associate = DLMSSession(DLMSAssociateConversation(challenge: Array("ABCDEFGH".utf8)),
                                    association: DLMSAssociation(settings: settings, invocationCounters: 1...50))
        let a = try DLMSLineTests.drive(&associate, on: client.fd).get().value
        let plan = DLMSReadPlan(objects: section.objects)
        var read = DLMSSession(DLMSServiceConversation(plan.operations), association: a)
        let values = plan.values(from: try DLMSLineTests.drive(&read, on: client.fd).get().value).values
        #expect(values.count == section.objects.count && values.allSatisfy { $0.error == nil }, "\(values)")
        #expect((200...260).contains(values.first { $0.quantity == "voltage_l1" }?.value ?? 0))
        #expect(try client.readRegisters(slave: 5, start: 0, count: 2).count == 2)
        let records = servedRecords(dir.file("served.jsonl"))
        #expect(records.contains { $0["slave"]?.intValue == 17 && $0["ic"] != nil })
    }

    @Test func aBrokenSecretsFileIsAConfigurationError() throws {
        let dir = TemporaryDirectory("meter-sim-dlms-exe")
        let secrets = dir.file("dlms.secrets")
        try "encryption-key=000102030405060708090A0B0C0D0E\n".write(toFile: secrets, atomically: true, encoding: .utf8)
        let result = try runCommand(binary, ["--link", dir.file("bus1"), "--meters", "17:landis-gyr-e450", "--dlms-secrets", secrets])
        #expect(result.status == ExitStatus.config)
        #expect(result.stderr.contains("encryption-key") && !result.stderr.contains("000102030405"), "\(result.stderr)")
    }
}

/// The line's frame assembler with HDLC frames beside Modbus requests.
@Suite struct HDLCFrameAssemblyTests {
    let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)
    /// [GX1] of MeterProtocolsTests: Gurux's SNRM to server 1 from client 16.
    let snrm: [UInt8] = [0x7E, 0xA0, 0x07, 0x03, 0x21, 0x93, 0x0F, 0x01, 0x7E]

    @Test func anHDLCFrameEndsByItsLengthAtAnySplit() throws {
        for cut in 1..<snrm.count {
            var a = FrameAssembler(line: LineSettings(baud: 9600))
            a.receive(Array(snrm[..<cut]), at: t0)
            #expect(a.takeCompleteFrame() == nil, "incomplete at \(cut)")
            a.receive(Array(snrm[cut...]), at: t0)
            let taken = a.takeCompleteFrame()
            let frame = try #require(taken)
            #expect(frame.bytes == snrm)
            #expect(frame.end.nanoseconds - t0.nanoseconds == 9 * 1_041_667)
            #expect(a.buffer.isEmpty)
        }
    }

    @Test func aModbusRequestToSlave126IsStillModbus() throws {
        let request = ModbusRTUFrame.encode(ModbusRequest(slave: 126, pdu: .readInputRegisters(start: 0, count: 2)))
        #expect(request[0] == 0x7E)
        var a = FrameAssembler(line: LineSettings(baud: 9600))
        a.receive(request, at: t0)
        let taken = a.takeCompleteFrame()
        #expect(taken?.bytes == request)
    }
}
