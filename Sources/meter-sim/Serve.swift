#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ConcentratorCore
import MeterSimulator
import Platform

/// `meter-sim [serve] …`: opens the PTY, prints `pty PATH [link LINK]` on stdout (again after every
/// vanish), serves until SIGTERM or SIGINT, then removes the link and the control socket.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve simulated meters on a new pseudo-terminal (the default command).")

    @Option(help: "Keep a symbolic link at this path pointing to the current PTY.")
    var link: String?

    @Option(help: "Line speed the timing emulates.")
    var baud = 9600
    @Option(help: "Data bits (5-8).")
    var dataBits = 8
    @Option(help: "Parity: none, even or odd.")
    var parity = "none"
    @Option(help: "Stop bits (1 or 2).")
    var stopBits = 1

    @Option(name: .customLong("meters"), help: "FIRST-LAST:PROFILE or ADDR:PROFILE, repeatable (at most 64 meters).")
    var meterRanges: [String] = []
    @Option(help: "Turnaround in ms, MIN-MAX (each meter picks its own) or a fixed MS.")
    var turnaround = "20-60"
    @Option(name: .customLong("profiles"), help: "A directory of meter profiles, searched before the shipped ones; repeatable.")
    var profileDirectories: [String] = []

    @Option(help: "Append every answer to this file as JSON lines.")
    var servedLog: String?
    @Option(help: "Accept control commands on this UNIX socket.")
    var control: String?
    @Option(name: .customLong("fault"), help: "ADDR=FAULT, *=FAULT or vanish:SECONDS; repeatable. FAULT: none, silence, bad-crc, exception:N, garbage, slow:MS.")
    var faults: [String] = []

    @Option(help: "DLMS meters: a file with password=…, encryption-key=HEX, authentication-key=HEX lines (see Docs/meter-sim.md).")
    var dlmsSecrets: String?
    @Option(help: "DLMS meters: the largest HDLC information field they send and accept (32-2030).")
    var dlmsMaxInfo = 128
    @Option(help: "DLMS meters: the HDLC window size they offer (1-7).")
    var dlmsWindow = 1
    @Option(help: "DLMS meters: their max receive PDU size; longer GET answers go in blocks.")
    var dlmsMaxPdu = 512
    @Option(name: .customLong("iec-meters"), help: "IEC 62056-21 meters: FIRST-LAST:PROFILE or ADDR:PROFILE with decimal device addresses (FIRST's width is kept); repeatable.")
    var iecMeterRanges: [String] = []
    @Option(name: .customLong("iec-password"), help: "The programming-mode password (P1) of every IEC meter (default: none needed).")
    var iecPassword: String?
    @Option(name: .customLong("iec-reaction"), help: "IEC reaction time tr in ms, MIN-MAX (each meter picks its own) or a fixed MS.")
    var iecReaction = "200-300"
    @Option(name: .customLong("iec-fault"), help: "ADDR=FAULT for an IEC meter; repeatable. FAULT: none, silence, bad-bcc, missing-etx, stall, slow:MS.")
    var iecFaults: [String] = []

    @Option(help: "Start the meters' clock at this time (ISO 8601), for a timeline shared with the agent.")
    var clockOrigin: String?
    @Option(help: "Run the meters' clock this many times faster than real time.")
    var clockRate: Double?
    @Option(help: "Seed for the meters' values and turnarounds.")
    var seed: UInt64 = 1
    @Flag(help: "Log every discarded frame and collision.")
    var verbose = false

    // Wired and wireless M-Bus (Docs/meter-sim.md, "M-Bus"; Sources/meter-sim/ServeMBus.swift).
    @Option(name: .customLong("mbus"), help: "Wired M-Bus slaves: FIRST-LAST:PROFILE[:IDBASE] or secondary:COUNT:PROFILE[:IDBASE]; repeatable.")
    var mbusSlaves: [String] = []
    @Option(help: "Split each M-Bus readout over this many telegrams (DIF 1F between them).")
    var mbusTelegrams = 1
    @Flag(help: "The simulated M-Bus level converter echoes every request.")
    var mbusEcho = false
    @Option(name: .customLong("wmbus"), help: "Wireless meters behind an iM871A: COUNT:PROFILE:SECURITY:INTERVAL[:KEY]; repeatable.")
    var wirelessGroups: [String] = []
    @Option(help: "Id of the first wireless meter (8 decimal digits); the others count up.")
    var wmbusIdBase: UInt32 = 30_000_000
    @Option(help: "Link mode the wireless meters send in: t1 or c1.")
    var wmbusMode = "t1"

    func validate() throws {
        do {
            _ = try MeterRangeArgument.expand(meterRanges.map { r throws(SimulatorArgumentError) in try MeterRangeArgument.parse(r) })
            _ = try TurnaroundArgument.parse(turnaround)
            _ = try ParityArgument.parse(parity)
            for f in faults { _ = try FaultAssignment.parse(f) }
            _ = try IECMeterRangeArgument.expand(iecMeterRanges.map { r throws(SimulatorArgumentError) in try IECMeterRangeArgument.parse(r) })
            _ = try TurnaroundArgument.parse(iecReaction)
            for f in iecFaults { _ = try IECFaultArgument.parse(f) }
            try validateMBus()
        } catch {
            throw ValidationError(error.description)
        }
        if let clockOrigin, ISO8601.parse(clockOrigin) == nil {
            throw ValidationError("invalid --clock-origin \"\(clockOrigin)\" (expected ISO 8601, e.g. 2026-11-21T00:00:00Z)")
        }
        guard (32...2030).contains(dlmsMaxInfo), (1...7).contains(dlmsWindow), (64...65_535).contains(dlmsMaxPdu) else {
            throw ValidationError("invalid DLMS link limits (expected --dlms-max-info 32-2030, --dlms-window 1-7, --dlms-max-pdu 64-65535)")
        }
        if let clockRate, !(clockRate > 0 && clockRate <= 1_000_000) {
            throw ValidationError("invalid --clock-rate \(clockRate) (expected more than 0, at most 1000000)")
        }
    }

    func run() throws {
        let signals = blockTerminationSignals()
        LineLogHandler.bootstrap(level: verbose ? .debug : .info)
        if !wirelessGroups.isEmpty { return try runWirelessReceiver(signals) }
        let configuration: SimulatorConfiguration
        do {
            configuration = try makeConfiguration()
        } catch {
            writeStandardError("meter-sim: \(error)\n")
            throw ExitCode(ExitStatus.config)
        }
        try serveUntilSignalled(signals) {
            let bus = try SimulatedBus(configuration: configuration) { endpoint in
                writeStandardOutput(endpoint.announcement + "\n")
            }
            for f in iecFaults {
                let fault = try IECFaultArgument.parse(f)
                try bus.setIECFault(fault.fault, for: fault.address)
            }
            try bus.start()
            return bus.stop
        }
    }

    private func makeConfiguration() throws -> SimulatorConfiguration {
        let ranges = try meterRanges.map { r throws(SimulatorArgumentError) in try MeterRangeArgument.parse(r) }
        let addresses = try MeterRangeArgument.expand(ranges)
        let turnaroundRange = try TurnaroundArgument.parse(turnaround)
        var setups: [SimulatedMeterSetup] = []
        if !addresses.isEmpty {
            let resolve = profileResolver(directories: profileDirectories)
            for (address, id) in addresses {
                let profile = try resolve(id)
                setups.append(SimulatedMeterSetup(address: address, profile: profile, turnaroundMilliseconds: turnaroundRange))
            }
        }
        var iecSetups: [IECSimulatedMeterSetup] = []
        let iecAddresses = try IECMeterRangeArgument.expand(iecMeterRanges.map { r throws(SimulatorArgumentError) in try IECMeterRangeArgument.parse(r) })
        if !iecAddresses.isEmpty {
            let resolve = profileResolver(directories: profileDirectories)
            let reaction = try TurnaroundArgument.parse(iecReaction)
            for (address, id) in iecAddresses {
                iecSetups.append(IECSimulatedMeterSetup(deviceAddress: address, profile: try resolve(id), reactionMilliseconds: reaction,
                                                        password: iecPassword))
            }
        }
        let line = LineSettings(baud: baud, dataBits: dataBits, parity: try ParityArgument.parse(parity), stopBits: stopBits)
        let clock = simulatorClock()
        var configuration = SimulatorConfiguration(line: line, meters: setups, seed: seed, clock: clock, linkPath: link,
                                                   servedLogPath: servedLog, controlPath: control,
                                                   faults: try faults.map { f throws(SimulatorArgumentError) in try FaultAssignment.parse(f) },
                                                   iecMeters: iecSetups)
        configuration.mbus = try makeMBusSegment()
        configuration.dlms.limits = DLMSMeterLimits(maxInfo: dlmsMaxInfo, window: dlmsWindow, maxPDUSize: dlmsMaxPdu)
        if let dlmsSecrets {
            try configuration.dlms.applySecretsFile(try FileSystem.readText(dlmsSecrets))
        }
        return configuration
    }
}

/// Blocks SIGINT and SIGTERM in this thread and every thread started after it, so `sigwait` receives
/// them and the simulator can shut down cleanly (remove its link and socket). Ignores SIGPIPE, so a
/// reader that closed stdout after the first line (`| head -1`) does not kill the simulator.
func blockTerminationSignals() -> sigset_t {
    signal(SIGPIPE, SIG_IGN)
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &set, nil)
    return set
}

func writeStandardOutput(_ text: String) { try? FileDescriptor.writeAll(1, text) }
func writeStandardError(_ text: String) { try? FileDescriptor.writeAll(2, text) }
