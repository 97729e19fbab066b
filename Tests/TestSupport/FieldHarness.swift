import Foundation
import ConcentratorCore

/// A `meter-sim` process serving one bus on a PTY (real process, real line timing).
public final class MeterSimProcess: @unchecked Sendable {
    public let link: String
    public let servedLog: String
    public let control: String
    public let child: ChildProcess

    /// `meters` uses meter-sim's syntax, e.g. ["1-32:eastron-sdm630", "33-64:abb-b23"].
    public init(name: String, directory: TemporaryDirectory, meters: [String], baud: Int = 38_400,
                turnaround: String = "5-15", faults: [String] = [], extra: [String] = []) throws {
        link = directory.file("\(name).tty")
        servedLog = directory.file("\(name).served.jsonl")
        control = directory.file("\(name).ctl")
        var args = ["--link", link, "--baud", String(baud), "--turnaround", turnaround, "--profiles", BuiltProducts.profilesDirectory,
                    "--served-log", servedLog, "--control", control]
        for m in meters { args += ["--meters", m] }
        for f in faults { args += ["--fault", f] }
        child = try ChildProcess(BuiltProducts.path("meter-sim"), args + extra, name: "sim-\(name)", directory: directory)
        guard child.waitForOutput("pty ", timeout: .seconds(20)) else {
            throw HarnessError("meter-sim \(name) did not start: \(child.stderr)")
        }
    }

    public var served: [ServedLine] { ServedLogReader.read(servedLog) }

    /// Sends a control line (`fault 7 silence`, `vanish 2`) and returns the answer.
    @discardableResult
    public func control(_ line: String) throws -> String {
        let r = try runCommand(BuiltProducts.path("meter-sim"), ["ctl", "--control", control] + line.split(separator: " ").map(String.init))
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A failure in the test harness itself (a process did not start).
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The standard mix of shipped meter models over 64 addresses.
public let mixedBusOf64 = ["1-13:eastron-sdm630", "14-26:abb-b23", "27-39:carlo-gavazzi-em24", "40-52:finder-7m",
                           "53-64:eastron-sdm120"]

/// The profile meter-sim uses at `address` for `mixedBusOf64`.
public func mixedProfile(_ address: Int) -> String {
    switch address {
    case 1...13: return "eastron-sdm630"
    case 14...26: return "abb-b23"
    case 27...39: return "carlo-gavazzi-em24"
    case 40...52: return "finder-7m"
    default: return "eastron-sdm120"
    }
}

/// Writes an agent configuration into `directory` and returns its path.
public struct AgentConfigBuilder {
    public struct Bus {
        public var name: String
        public var device: String
        public var baud: Int
        public var addresses: [Int]
        public var profile: (Int) -> String
        public var timeouts: ClosedRange<Int>

        public init(name: String, device: String, baud: Int = 38_400, addresses: [Int], timeouts: ClosedRange<Int> = 100...600,
                    profile: @escaping (Int) -> String = mixedProfile) {
            self.name = name
            self.device = device
            self.baud = baud
            self.addresses = addresses
            self.profile = profile
            self.timeouts = timeouts
        }
    }

    public var deviceID = "gw-test"
    public var buses: [Bus]
    public var extraSections: [String: String] = [:]
    public var archive = #"{"intervalMinutes": 60, "retentionDays": 45}"#
    /// Buses and meters given as JSON objects (other protocols, other address forms).
    public var rawBuses: [String] = []
    public var rawMeters: [String] = []
    public var profileDirectories: [String] = []
    /// The POD (point of delivery) of some meters, by meter id.
    public var pods: [String: String] = [:]

    public init(buses: [Bus]) { self.buses = buses }

    /// The meter id for an address on a bus.
    public static func meterID(bus: String, address: Int) -> String { "\(bus)-m\(address)" }

    public func write(to directory: TemporaryDirectory) throws -> String {
        let state = directory.file("state"), run = directory.file("run")
        var busJSON: [String] = []
        var meterJSON: [String] = []
        for b in buses {
            busJSON.append(#"{"name": "\#(b.name)", "device": "\#(b.device)", "baud": \#(b.baud), "responseTimeoutMilliseconds": {"min": \#(b.timeouts.lowerBound), "max": \#(b.timeouts.upperBound)}}"#)
            for a in b.addresses {
                let id = Self.meterID(bus: b.name, address: a)
                let pod = pods[id].map { #", "pod": "\#($0)""# } ?? ""
                meterJSON.append(#"{"id": "\#(id)", "bus": "\#(b.name)", "address": \#(a), "profile": "\#(b.profile(a))"\#(pod)}"#)
            }
        }
        busJSON += rawBuses
        meterJSON += rawMeters
        let dirs = profileDirectories.isEmpty ? "" : ", \"profileDirectories\": [" + profileDirectories.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        var text = """
        {
          "device": {"id": "\(deviceID)", "stateDirectory": "\(state)", "runtimeDirectory": "\(run)"\(dirs)},
          "buses": [\(busJSON.joined(separator: ",\n    "))],
          "meters": [
            \(meterJSON.joined(separator: ",\n    "))
          ],
          "archive": \(archive)
        """
        for (k, v) in extraSections.sorted(by: { $0.key < $1.key }) { text += ",\n  \"\(k)\": \(v)" }
        text += "\n}\n"
        let path = directory.file("config.json")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// A running `concentrator run` process.
public final class AgentProcess: @unchecked Sendable {
    public let child: ChildProcess
    public let configPath: String

    /// Starts the agent with a virtual clock at `clockOrigin` running `clockRate` times real time.
    public init(config: String, directory: TemporaryDirectory, name: String = "agent", clockOrigin: Timestamp? = nil,
                clockRate: Double = 1, environment: [String: String] = [:], logLevel: String = "info") throws {
        configPath = config
        var args = ["run", "--config", config, "--log-level", logLevel]
        if let clockOrigin { args += ["--clock-origin", ISO8601.format(clockOrigin), "--clock-rate", String(clockRate)] }
        child = try ChildProcess(BuiltProducts.path("concentrator"), args, name: name, directory: directory, environment: environment)
    }

    public var log: String { child.stderr }

    /// Waits until the agent logs that it runs (control socket up).
    @discardableResult
    public func waitUntilRunning(timeout: Duration = .seconds(30)) -> Bool {
        child.waitForOutput("running: device", inStderr: true, timeout: timeout)
    }

    /// The `archived …` lines logged so far, parsed: bus, interval, meter count.
    public var archivedLines: [(bus: String, interval: Timestamp, meters: Int)] {
        log.split(separator: "\n").compactMap { line in
            guard line.contains(" archived ") else { return nil }
            var fields: [String: String] = [:]
            for token in line.split(separator: " ") {
                let kv = token.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
            }
            guard let bus = fields["bus"], let interval = fields["interval"].flatMap(ISO8601.parse),
                  let meters = fields["meters"].flatMap(Int.init) else { return nil }
            return (bus, interval, meters)
        }
    }

    /// Runs a `concentrator` tool command against this agent's configuration.
    public func tool(_ arguments: [String], timeout: Duration = .seconds(120)) throws -> (status: Int32, stdout: String, stderr: String) {
        try runCommand(BuiltProducts.path("concentrator"), arguments + ["--config", configPath], timeout: timeout)
    }
}

/// The next hour boundary after now, and a clock origin `secondsBefore` it.
public func originBeforeNextHour(secondsBefore: Int64) -> (origin: Timestamp, boundary: Timestamp) {
    let boundary = IntervalSchedule(minutes: 60).nextBoundary(after: Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)))
    return (boundary.adding(seconds: -secondsBefore), boundary)
}
