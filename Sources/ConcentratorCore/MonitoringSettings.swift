/// The `monitoring` section: where the gateway is, alarm rules evaluated on the gateway, and the
/// outputs (relays, lighting circuits) that schedules switch. Read by `ConfigurationLoader`
/// (`ConfigurationLoader+Monitoring.swift`); evaluated by the `Monitoring` module.
/// Docs/configuration.md ("monitoring") and Docs/edge-monitoring.md describe it.
public struct MonitoringSettings: Hashable, Sendable {
    public var location: SiteLocation?
    public var alarms: [AlarmRule]
    public var rateLimit: AlarmRateLimit
    public var outputs: [SwitchedOutput]
    public var schedules: [OutputSchedule]
    public var timers: [OneOffTimer]
    public var overrides: [OutputOverride]
    public var switching: SwitchingRetryPolicy

    public init(location: SiteLocation? = nil, alarms: [AlarmRule] = [], rateLimit: AlarmRateLimit = AlarmRateLimit(),
                outputs: [SwitchedOutput] = [], schedules: [OutputSchedule] = [], timers: [OneOffTimer] = [],
                overrides: [OutputOverride] = [], switching: SwitchingRetryPolicy = SwitchingRetryPolicy()) {
        self.location = location
        self.alarms = alarms
        self.rateLimit = rateLimit
        self.outputs = outputs
        self.schedules = schedules
        self.timers = timers
        self.overrides = overrides
        self.switching = switching
    }

    public func output(_ id: String) -> SwitchedOutput? { outputs.first { $0.id == id } }
}

/// Where the gateway stands: for sunrise and sunset, and the zone whose wall clock schedules follow.
public struct SiteLocation: Hashable, Sendable {
    /// Degrees north (negative: south), −90…90.
    public var latitude: Double
    /// Degrees east (negative: west), −180…180.
    public var longitude: Double
    /// A zone of the system's database, e.g. `Europe/Rome` (/usr/share/zoneinfo).
    public var timeZone: String

    public init(latitude: Double, longitude: Double, timeZone: String) {
        self.latitude = latitude
        self.longitude = longitude
        self.timeZone = timeZone
    }
}

/// One alarm rule: a condition watched on each meter in its scope.
public struct AlarmRule: Hashable, Sendable {
    /// Unique among rules; sent with every transition.
    public var id: String
    public var scope: AlarmScope
    public var severity: GatewayEvent.Severity
    public var condition: AlarmCondition
    /// How long the condition must hold before the alarm is raised (0 = at once).
    public var minimumDurationSeconds: Int

    public init(id: String, scope: AlarmScope, severity: GatewayEvent.Severity = .warning, condition: AlarmCondition,
                minimumDurationSeconds: Int = 0) {
        self.id = id
        self.scope = scope
        self.severity = severity
        self.condition = condition
        self.minimumDurationSeconds = minimumDurationSeconds
    }

    /// The meters the rule watches, in configuration order.
    public func meters(in config: ConcentratorConfig) -> [MeterID] {
        switch scope {
        case .meters(let ids): return config.meters.map(\.id).filter(ids.contains)
        case .profiles(let profiles): return config.meters.filter { profiles.contains($0.profile) }.map(\.id)
        }
    }
}

/// Which meters a rule watches.
public enum AlarmScope: Hashable, Sendable {
    case meters([MeterID])
    /// Every configured meter read with one of these profiles.
    case profiles([String])
}

/// Above or below a limit.
public enum ThresholdDirection: String, Hashable, Sendable, Codable {
    case above, below
}

/// What an alarm rule watches.
public enum AlarmCondition: Hashable, Sendable {
    /// A quantity above (below) `limit`; clears once it is back below `limit − hysteresis`
    /// (above `limit + hysteresis`).
    case threshold(quantity: QuantityID, direction: ThresholdDirection, limit: Double, hysteresis: Double)
    /// Mains absent: any of `phases` below `voltageBelow` volts, or the meter's power-fail flag set;
    /// clears when every phase is at least `voltageBelow + hysteresis` and the flag is clear.
    case mainsAbsence(phases: [QuantityID], voltageBelow: Double, hysteresis: Double, powerFailFlag: String?)
    /// A named boolean input is set (a bit of the profile's status register: tamper, cover open, error).
    case flag(name: String)
    /// The meter stopped answering (`meter_offline`); clears when it answers again (`meter_online`).
    case communicationLost
    /// A counter (energy, volume) has not grown by more than `tolerance` for `days` days.
    case zeroConsumption(quantity: QuantityID, days: Int, tolerance: Double)
    /// A quarter-hour value above `factor` × the median of the same local quarter-hour over the last
    /// `days` days (counters: the quarter-hour's increase), when at least `minimumSamples` such days
    /// have a value and the value is at least `minimumValue`. Clears at the next quarter-hour within it.
    case spike(quantity: QuantityID, factor: Double, days: Int, minimumSamples: Int, minimumValue: Double)

    /// The configuration name of the kind.
    public var kindName: String {
        switch self {
        case .threshold: return "threshold"
        case .mainsAbsence: return "mains-absence"
        case .flag: return "flag"
        case .communicationLost: return "communication-lost"
        case .zeroConsumption: return "zero-consumption"
        case .spike: return "spike"
        }
    }
}

/// How many transitions one rule on one meter may send per hour before it is treated as flapping.
public struct AlarmRateLimit: Hashable, Sendable {
    /// Raise and clear transitions allowed per rule and meter in any sliding hour (acks do not count).
    public var maxTransitionsPerHour: Int

    public init(maxTransitionsPerHour: Int = 6) { self.maxTransitionsPerHour = maxTransitionsPerHour }
}

/// The two states of a switched output.
public enum OutputState: String, Hashable, Sendable, Codable, CaseIterable {
    case on, off
}

/// Something a schedule switches: the relay of a meter (the `relay` command's target: on = connect)
/// or a lighting circuit of a controller on the bus.
public struct SwitchedOutput: Hashable, Sendable {
    /// What kind of thing is switched; raw values are the configuration's names.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case relay
        case lightingCircuit = "lighting-circuit"
    }

    public var id: String
    public var kind: Kind
    public var meter: MeterID
    /// The circuit number on the controller (lighting circuits only).
    public var circuit: Int?

    public init(id: String, kind: Kind, meter: MeterID, circuit: Int? = nil) {
        self.id = id
        self.kind = kind
        self.meter = meter
        self.circuit = circuit
    }
}

/// When an output is on: a list of windows; outside every window it is off.
public struct OutputSchedule: Hashable, Sendable {
    public var id: String
    public var output: String
    public var windows: [ScheduleWindow]

    public init(id: String, output: String, windows: [ScheduleWindow]) {
        self.id = id
        self.output = output
        self.windows = windows
    }
}

/// One on-window, starting on the given weekdays (local time) and ending at the first `to` after
/// its start (the same day or the next: a window from sunset to sunrise crosses midnight).
public struct ScheduleWindow: Hashable, Sendable {
    public var from: ScheduleTime
    public var to: ScheduleTime
    /// The weekdays the window starts on; all seven by default.
    public var days: Set<Weekday>

    public init(from: ScheduleTime, to: ScheduleTime, days: Set<Weekday> = Set(Weekday.allCases)) {
        self.from = from
        self.to = to
        self.days = days
    }
}

/// A switching time: a wall-clock time in the site's zone, or a solar event with an offset.
public enum ScheduleTime: Hashable, Sendable {
    case clock(TimeOfDay)
    case solar(SolarEvent, offsetMinutes: Int)
}

/// A one-off switching: the output is `state` from `start` until `end`, then follows its schedule again.
public struct OneOffTimer: Hashable, Sendable {
    public var id: String
    public var output: String
    public var state: OutputState
    public var start: Timestamp
    public var end: Timestamp

    public init(id: String, output: String, state: OutputState = .on, start: Timestamp, end: Timestamp) {
        self.id = id
        self.output = output
        self.state = state
        self.start = start
        self.end = end
    }
}

/// A manual override: the output is `state` until `until`, whatever its schedule and timers say.
public struct OutputOverride: Hashable, Sendable {
    public var output: String
    public var state: OutputState
    public var until: Timestamp

    public init(output: String, state: OutputState, until: Timestamp) {
        self.output = output
        self.state = state
        self.until = until
    }
}

/// How a switching that failed (the meter did not answer) is retried before it is alarmed.
public struct SwitchingRetryPolicy: Hashable, Sendable {
    /// Wait before the first retry; each further retry waits twice as long, up to `maxRetryIntervalSeconds`.
    public var firstRetrySeconds: Int
    public var maxRetryIntervalSeconds: Int
    /// After this long without success the failure is alarmed (retries go on at the longest interval).
    public var windowSeconds: Int

    public init(firstRetrySeconds: Int = 30, maxRetryIntervalSeconds: Int = 300, windowSeconds: Int = 900) {
        self.firstRetrySeconds = firstRetrySeconds
        self.maxRetryIntervalSeconds = maxRetryIntervalSeconds
        self.windowSeconds = windowSeconds
    }
}

/// A solar event a schedule can switch on. Altitudes of the Sun's centre, with the conventions of the
/// NOAA Solar Calculator and the USNO: sunrise and sunset at −0.833° (34′ refraction plus the 16′
/// semidiameter: the upper limb touches a flat horizon), civil twilight at −6°.
public enum SolarEvent: String, Hashable, Sendable, Codable, CaseIterable {
    case sunrise, sunset
    /// Civil dawn: morning civil twilight begins (the Sun's centre 6° below the horizon, rising).
    case civilDawn = "civil-dawn"
    /// Civil dusk: evening civil twilight ends (the Sun's centre 6° below the horizon, setting).
    case civilDusk = "civil-dusk"

    /// The altitude of the Sun's centre at the event, in degrees.
    public var altitude: Double {
        switch self {
        case .sunrise, .sunset: return -0.833
        case .civilDawn, .civilDusk: return -6
        }
    }

    /// Whether the Sun crosses the altitude going up (morning) rather than down.
    public var isRising: Bool { self == .sunrise || self == .civilDawn }
}

/// A day of the week, ISO order (Monday first). Raw values are the configuration's names.
public enum Weekday: String, Hashable, Sendable, Codable, CaseIterable {
    case monday = "mon", tuesday = "tue", wednesday = "wed", thursday = "thu", friday = "fri", saturday = "sat", sunday = "sun"
}

/// A wall-clock time of day in seconds after local midnight (0 ..< 86400), e.g. "06:30".
public struct TimeOfDay: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let secondsOfDay: Int

    public init?(hour: Int, minute: Int, second: Int = 0) {
        guard (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second) else { return nil }
        secondsOfDay = hour * 3600 + minute * 60 + second
    }

    /// Parses `HH:MM` or `HH:MM:SS` (24-hour clock).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3,
              parts.allSatisfy({ $0.count == 2 && $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }),
              let h = Int(parts[0]), let m = Int(parts[1]), let s = parts.count == 3 ? Int(parts[2]) : 0 else { return nil }
        self.init(hour: h, minute: m, second: s)
    }

    public static func < (a: TimeOfDay, b: TimeOfDay) -> Bool { a.secondsOfDay < b.secondsOfDay }

    public var description: String {
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let text = two(secondsOfDay / 3600) + ":" + two(secondsOfDay / 60 % 60)
        return secondsOfDay % 60 == 0 ? text : text + ":" + two(secondsOfDay % 60)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let t = TimeOfDay(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an HH:MM time: \(text)"))
        }
        self = t
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A change to an output's switching made at run time (`schedule.set`, the console): kept in the
/// agent's archive, not in config.json, and applied over the configured schedules.
public enum ScheduleChange: Hashable, Sendable {
    /// What `remove` takes away.
    public enum Removal: String, Hashable, Sendable, CaseIterable {
        /// The runtime schedule (the configured one applies again).
        case schedule
        case override
        /// Every one-off timer of the output.
        case timers
    }

    /// Replaces the output's schedule.
    case schedule(OutputSchedule)
    case override(OutputOverride)
    /// Adds (or replaces, by id) a one-off timer.
    case timer(OneOffTimer)
    case remove(output: String, what: Removal)

    /// The output the change is about.
    public var output: String {
        switch self {
        case .schedule(let s): return s.output
        case .override(let o): return o.output
        case .timer(let t): return t.output
        case .remove(let output, _): return output
        }
    }
}
