#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ConcentratorCore
import MeterProtocols
import MeterSimulator
import Platform

/// The M-Bus half of `meter-sim serve`: `--mbus` puts wired slaves on the line (served by the same
/// line loop as Modbus meters), `--wmbus` runs an iM871A receiver stream instead of a bus.
extension Serve {
    func validateMBus() throws(SimulatorArgumentError) {
        for s in mbusSlaves { _ = try MBusSlaveArgument.parse(s) }
        for g in wirelessGroups { _ = try WirelessGroupArgument.parse(g) }
        guard (1...16).contains(mbusTelegrams) else {
            throw .invalid(what: "mbus telegrams", value: String(mbusTelegrams), expected: "1-16")
        }
        guard wmbusMode == "t1" || wmbusMode == "c1" else { throw .invalid(what: "wmbus mode", value: wmbusMode, expected: "t1 or c1") }
        let kinds = [!meterRanges.isEmpty, !mbusSlaves.isEmpty, !wirelessGroups.isEmpty].filter { $0 }.count
        guard kinds <= 1 else {
            throw .invalid(what: "combination", value: "--meters/--mbus/--wmbus", expected: "one kind of field per line")
        }
    }

    /// The meters' time: the system clock, or an accelerated one from `--clock-origin`/`--clock-rate`.
    func simulatorClock() -> any WallClock {
        guard clockOrigin != nil || clockRate != nil else { return SystemClock() }
        let origin = clockOrigin.flatMap(ISO8601.parse) ?? SystemClock().now()
        return AcceleratedClock(origin: origin, rate: clockRate ?? 1)
    }

    func makeMBusSegment() throws -> MBusSegmentSetup? {
        guard !mbusSlaves.isEmpty else { return nil }
        let resolve = profileResolver(directories: profileDirectories)
        var slaves: [MBusSlaveSetup] = []
        for text in mbusSlaves {
            let argument = try MBusSlaveArgument.parse(text)
            slaves += try argument.slaves(profile: try resolve(argument.profileID), telegrams: mbusTelegrams, seed: seed)
        }
        return MBusSegmentSetup(slaves: slaves, echo: mbusEcho)
    }

    func runWirelessReceiver(_ signals: sigset_t) throws {
        let configuration: WirelessReceiverConfiguration
        do {
            let resolve = profileResolver(directories: profileDirectories)
            var meters: [WirelessMeterSetup] = []
            var next = wmbusIdBase
            for text in wirelessGroups {
                let group = try WirelessGroupArgument.parse(text)
                meters += try group.meters(profile: try resolve(group.profileID), firstID: next,
                                           linkMode: wmbusMode == "c1" ? .c1 : .t1, seed: seed)
                next += UInt32(group.count)
            }
            configuration = WirelessReceiverConfiguration(meters: meters, seed: seed, clock: simulatorClock(), linkPath: link)
        } catch {
            writeStandardError("meter-sim: \(error)\n")
            throw ExitCode(ExitStatus.config)
        }
        try serveUntilSignalled(signals) {
            let receiver = try SimulatedWirelessReceiver(configuration: configuration) { endpoint in
                writeStandardOutput(endpoint.announcement + "\n")
            }
            try receiver.start()
            return receiver.stop
        }
    }
}

/// Starts a simulator (`start` returns how to stop it), waits for SIGTERM or SIGINT, stops it.
/// A failure to start exits 1 with the reason on stderr.
func serveUntilSignalled(_ signals: sigset_t, _ start: () throws -> () -> Void) throws {
    do {
        let stop = try start()
        var received: Int32 = 0
        var set = signals
        sigwait(&set, &received)
        stop()
    } catch {
        writeStandardError("meter-sim: \(error)\n")
        throw ExitCode(ExitStatus.failure)
    }
}
