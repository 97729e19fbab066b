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

    @Option(help: "Start the meters' clock at this time (ISO 8601), for a timeline shared with the agent.")
    var clockOrigin: String?
    @Option(help: "Run the meters' clock this many times faster than real time.")
    var clockRate: Double?
    @Option(help: "Seed for the meters' values and turnarounds.")
    var seed: UInt64 = 1
    @Flag(help: "Log every discarded frame and collision.")
    var verbose = false

    func validate() throws {
        do {
            _ = try MeterRangeArgument.expand(meterRanges.map { r throws(SimulatorArgumentError) in try MeterRangeArgument.parse(r) })
            _ = try TurnaroundArgument.parse(turnaround)
            _ = try ParityArgument.parse(parity)
            for f in faults { _ = try FaultAssignment.parse(f) }
        } catch {
            throw ValidationError(error.description)
        }
        if let clockOrigin, ISO8601.parse(clockOrigin) == nil {
            throw ValidationError("invalid --clock-origin \"\(clockOrigin)\" (expected ISO 8601, e.g. 2026-11-21T00:00:00Z)")
        }
        if let clockRate, !(clockRate > 0 && clockRate <= 1_000_000) {
            throw ValidationError("invalid --clock-rate \(clockRate) (expected more than 0, at most 1000000)")
        }
    }

    func run() throws {
        let signals = blockTerminationSignals()
        LineLogHandler.bootstrap(level: verbose ? .debug : .info)
        let configuration: SimulatorConfiguration
        do {
            configuration = try makeConfiguration()
        } catch {
            writeStandardError("meter-sim: \(error)\n")
            throw ExitCode(ExitStatus.config)
        }
        do {
            let bus = try SimulatedBus(configuration: configuration) { endpoint in
                writeStandardOutput(endpoint.announcement + "\n")
            }
            try bus.start()
            var received: Int32 = 0
            var set = signals
            sigwait(&set, &received)
            bus.stop()
        } catch {
            writeStandardError("meter-sim: \(error)\n")
            throw ExitCode(ExitStatus.failure)
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
        let line = LineSettings(baud: baud, dataBits: dataBits, parity: try ParityArgument.parse(parity), stopBits: stopBits)
        var clock: any WallClock = SystemClock()
        if clockOrigin != nil || clockRate != nil {
            let origin = clockOrigin.flatMap(ISO8601.parse) ?? SystemClock().now()
            clock = AcceleratedClock(origin: origin, rate: clockRate ?? 1)
        }
        return SimulatorConfiguration(line: line, meters: setups, seed: seed, clock: clock, linkPath: link,
                                      servedLogPath: servedLog, controlPath: control,
                                      faults: try faults.map { f throws(SimulatorArgumentError) in try FaultAssignment.parse(f) })
    }
}

/// Blocks SIGINT and SIGTERM in this thread and every thread started after it, so `sigwait` receives
/// them and the simulator can shut down cleanly (remove its link and socket). Ignores SIGPIPE, so a
/// reader that closed stdout after the first line (`| head -1`) does not kill the simulator.
private func blockTerminationSignals() -> sigset_t {
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
