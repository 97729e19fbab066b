import Foundation
import Glibc
import Testing
import ConcentratorCore
import MeterProtocols
import Platform
import TestSupport
import Logging
@testable import Bus
@testable import MeterSimulator

/// Runs a `MeterSession` through the bus owner's own runner (`MeterSessionRunner`) on a `BusLine`.
struct PortSessionDriver {
    let line: BusLine

    init(path: String) {
        line = BusLine(settings: BusSettings(name: "pty", device: path, line: LineSettings(baud: 9600)), logger: Logger(label: "test"))
        line.ensureOpen()
    }

    var port: SerialPort { line.port! }

    func run<S: MeterSession>(_ session: inout S) throws -> Result<S.Outcome, MeterSessionError> {
        MeterSessionRunner(line: line).run(&session).result
    }
}

@Suite(.serialized) struct IECPortSessionTests {
    /// A mode C meter with energy, power and voltage registers and a settable clock.
    static let iecProfile = MeterProfile(
        id: "iec-port-test", name: "test", manufacturer: "test", source: "test", protocolKind: .iec62056_21,
        iec: IECProfile(maximumBaud: 9600, identification: IECIdentificationPattern(manufacturer: "SIM", identPrefix: "T1"),
                        registers: [IECRegisterSpec(obis: "1.8.0", quantity: "active_energy_import", unit: "kWh"),
                                    IECRegisterSpec(obis: "16.7.0", quantity: "active_power_total", unit: "kW", scale: 1000),
                                    IECRegisterSpec(obis: "32.7.0", quantity: "voltage_l1", unit: "V")],
                        clock: IECClockSpec()))

    /// 7E1 on a pseudo-terminal: Linux answers EINVAL (older kernels keep CS8 silently); the port
    /// then runs 8N1, reports 7E1, and puts the parity in the eighth bit.
    @Test func sevenEvenOnAPTYRunsAsEightNoneWithSoftwareParity() throws {
        let pty = TestPTY()
        let port = try SerialPort(path: pty.path, line: LineSettings(baud: 9600))
        #expect(port.softwareParity == nil)
        let hardware = TerminalFraming.acceptsSevenEven(pty.slave)
        try port.apply(IECTiming.signOnLine)
        #expect(port.line == IECTiming.signOnLine, "the line reports what was asked")
        var tio = termios()
        #expect(tcgetattr(port.fd, &tio) == 0)
        if hardware {
            #expect(port.softwareParity == nil, "the port kept 7E1: hardware parity")
            #expect(tio.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS7))
        } else {
            #expect(port.softwareParity == SoftwareParity(.even))
            #expect(tio.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS8) && tio.c_cflag & tcflag_t(PARENB) == 0, "8N1 on the wire")
            // "/?!" with even parity in bit 7: '/' (five ones) gets it, '?' (six) and '!' (two) do not.
            #expect(port.wireBytes(for: Array("/?!".utf8)) == [0xAF, 0x3F, 0x21])
            #expect(try port.characters(fromWire: [0xAF, 0x3F, 0x21]) == Array("/?!".utf8))
            #expect(throws: SoftwareParityError(parity: .even, offset: 1, byte: 0xBF)) { try port.characters(fromWire: [0xAF, 0xBF]) }
            // The bytes really cross the PTY with their parity bits.
            let sent = port.wireBytes(for: Array("/?12!\r\n".utf8))
            _ = sent.withUnsafeBytes { Glibc.write(port.fd, $0.baseAddress, $0.count) }
            var buffer = [UInt8](repeating: 0, count: 16)
            let n = buffer.withUnsafeMutableBytes { Glibc.read(pty.master, $0.baseAddress, $0.count) }
            #expect(Array(buffer[0..<max(0, n)]) == sent)
        }
        try port.apply(LineSettings(baud: 9600))
        #expect(port.softwareParity == nil && port.wireBytes(for: [0x2F]) == [0x2F], "8N1 again: no software parity")
        // 8E1 (M-Bus) has no 10-bit twin; a pseudo-terminal has no wire either, so it runs as 8N1
        // with the same bytes and no software parity, and reports 8E1.
        if !hardware {
            try port.apply(LineSettings(baud: 2400, dataBits: 8, parity: .even))
            #expect(port.line == LineSettings(baud: 2400, dataBits: 8, parity: .even) && port.softwareParity == nil)
            #expect(port.wireBytes(for: [0xE5]) == [0xE5])
        }
    }

    @Test func softwareParityAddsChecksAndStrips() throws {
        let even = SoftwareParity(.even), odd = SoftwareParity(.odd)
        for c in UInt8(0)...0x7F {
            let e = even.adding(to: c), o = odd.adding(to: c)
            #expect(e & 0x7F == c && e.nonzeroBitCount % 2 == 0 && o.nonzeroBitCount % 2 == 1)
            #expect(try even.stripping([e]) == [c] && (try? even.stripping([o])) == nil)
        }
        #expect(SoftwareParity(.none).adding(to: [0xFF]) == [0xFF])
        #expect(try SoftwareParity(.none).stripping([0xFF]) == [0xFF])
        #expect(MeterSessionError(SoftwareParityError(parity: .even, offset: 3, byte: 0x2F)).kind == .badCheck)
    }

    /// The whole path on a real PTY pair: meter-sim's line with IEC meters and a Modbus meter, the
    /// agent's `SerialPort` (7E1 by software parity where the PTY refuses it), the pure sessions.
    @Test func sessionsOverARealPTYBesideAModbusMeter() throws {
        let directory = TemporaryDirectory("iec-pty")
        let served = directory.file("served.jsonl")
        let profile = Self.iecProfile
        let modbus = ShippedProfiles.get("eastron-sdm120")
        let configuration = SimulatorConfiguration(
            line: LineSettings(baud: 9600), meters: [SimulatedMeterSetup(address: 5, profile: modbus, turnaroundMilliseconds: 5...10)],
            seed: 11, servedLogPath: served,
            iecMeters: ["00000001", "00000002"].map { IECSimulatedMeterSetup(deviceAddress: $0, profile: profile, password: "4711") })
        let simulator = try SimulatedBus(configuration: configuration)
        try simulator.start()
        defer { simulator.stop() }
        let path = try #require(simulator.endpoint?.ptyPath)
        let driver = PortSessionDriver(path: path)
        let port = driver.port

        // Readout of meter 2 at 300 baud sign-on, switched to 9600.
        var readout = IECReadoutSession(link: IECLinkOptions(deviceAddress: "00000002"))
        let result = try driver.run(&readout).get()
        #expect(result.identification.ident == "T1-00000002" && result.baud == 9600)
        let values = IECValueMapping.values(result.data, registers: profile.iec!.registers)
        #expect(values.allSatisfy { $0.error == nil })
        #expect((port.softwareParity != nil) == (simulator.iecUsesSoftwareParity == true), "both ends agree on the framing")
        let record = try #require(readTextFile(served).split(separator: "\n").last { $0.contains("\"device\":\"00000002\"") })
        for v in values { #expect(record.contains("\"\(v.quantity.rawValue)\":\(v.value!)"), "\(v.quantity) as served") }

        // The Modbus meter on the same line still answers, at 8N1.
        try port.apply(LineSettings(baud: 9600))
        let master = ModbusMaster(port: port)
        let registers = master.readRegisters(slave: 5, function: .readInputRegisters, start: 0, count: 2,
                                             timeout: .seconds(1), byteTimeout: .milliseconds(100))
        #expect((try? registers.get())?.count == 2)

        // Programming mode on meter 1: set its clock 2 minutes ahead of now, then read it back.
        let now = SystemClock().now()
        let target = IECMeterClockZone.utc.meterTime(at: now.adding(seconds: 120))
        var set = IECSessions.setClock(link: IECLinkOptions(deviceAddress: "00000001"), password: Array("4711".utf8),
                                       clock: IECClockSpec(), to: target)
        if target.civil.hour == 23 && target.civil.minute == 59 { return } // the session refuses the last seconds of a day
        #expect(try driver.run(&set).get() == target)
        let offset = try #require(simulator.iecMeter(at: "00000001")?.clockOffsetMilliseconds)
        #expect(abs(offset - 120_000) < 5_000, "the meter runs about two minutes ahead: \(offset) ms")
        var read = IECSessions.readClock(link: IECLinkOptions(deviceAddress: "00000001"), password: Array("4711".utf8), clock: IECClockSpec())
        let clock = try driver.run(&read).get()
        #expect(abs(clock.civil.timestamp().seconds - SystemClock().now().adding(seconds: 120).seconds) <= 5)

        // A fault on the line: the next readout of meter 1 fails with a typed error, meter 2 is unaffected.
        try simulator.setIECFault(.badBCC, for: "00000001")
        var bad = IECReadoutSession(link: IECLinkOptions(deviceAddress: "00000001"))
        guard case .failure(let e) = try driver.run(&bad) else { Issue.record("a bad BCC was accepted"); return }
        #expect(e.kind == .badCheck)
        var good = IECReadoutSession(link: IECLinkOptions(deviceAddress: "00000002"))
        #expect((try? driver.run(&good).get()) != nil)
    }
}
