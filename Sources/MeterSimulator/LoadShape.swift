import ConcentratorCore

/// Hours of load split by tariff: the integral of a load level over time, in "level × hours".
/// Multiplying by a peak power in kW gives energy in kWh.
public struct TariffHours: Hashable, Sendable {
    /// Day tariff (T1): 06:00–22:00 UTC.
    public var day: Double
    /// Night tariff (T2): 22:00–06:00 UTC.
    public var night: Double

    public init(day: Double, night: Double) {
        self.day = day
        self.night = night
    }

    public var total: Double { day + night }

    public static func - (a: TariffHours, b: TariffHours) -> TariffHours {
        TariffHours(day: a.day - b.day, night: a.night - b.night)
    }
}

/// A daily load curve: the relative load (0…1 of the peak) at every full hour of the day (UTC),
/// linear in between. Its integral is computed in closed form and in exact integer arithmetic, so
/// energy counters are a pure function of time that never goes back (not even by one rounding step),
/// agrees across simulator restarts, and costs nothing when an accelerated clock jumps hours ahead.
public struct LoadShape: Hashable, Sendable {
    /// Counters start at this instant (2015-01-01T00:00:00Z, a day boundary); earlier times read as this one.
    public static let referenceEpoch = Timestamp(seconds: 1_420_070_400)
    /// The day tariff (T1) hours; the rest of the day is the night tariff (T2).
    public static let dayTariffHours = 6..<22

    /// A household curve: low at night, a morning peak, a flat middle of the day, the evening peak.
    public static let household = LoadShape(hourly: [
        0.22, 0.18, 0.15, 0.14, 0.14, 0.16, 0.30, 0.65, 0.80, 0.60, 0.48, 0.45,
        0.50, 0.45, 0.42, 0.45, 0.52, 0.68, 0.90, 1.00, 0.95, 0.80, 0.55, 0.35,
    ])

    /// Levels are kept in units of 1/10000.
    private static let levelUnits: Int64 = 10_000
    private static let hourMilliseconds: Int64 = 3_600_000
    /// `ExactHours` counts level-units × ms² / 2 / hour (so a partial hour's quadratic term stays an
    /// integer); dividing by this gives level × hours.
    private static let unitsPerLevelHour = Double(2 * hourMilliseconds * hourMilliseconds * levelUnits)

    /// Relative load at 00:00, 01:00, … 23:00 UTC (rounded to 1/10000).
    public let hourly: [Double]
    private let levels: [Int64]
    private let segmentPrefix: [ExactHours]
    private let dayIntegral: ExactHours

    private struct ExactHours: Hashable, Sendable {
        var day: Int128 = 0
        var night: Int128 = 0

        mutating func add(_ amount: Int128, hour: Int) {
            if LoadShape.dayTariffHours.contains(hour) { day += amount } else { night += amount }
        }
    }

    /// `hourly` must hold 24 non-negative levels.
    public init(hourly: [Double]) {
        precondition(hourly.count == 24 && hourly.allSatisfy { $0 >= 0 }, "a load shape has 24 non-negative levels")
        levels = hourly.map { Int64(($0 * Double(LoadShape.levelUnits)).rounded()) }
        self.hourly = levels.map { Double($0) / Double(LoadShape.levelUnits) }
        var prefix: [ExactHours] = []
        var running = ExactHours()
        let h = Int128(LoadShape.hourMilliseconds)
        for hour in 0..<24 {
            prefix.append(running)
            running.add(h * h * Int128(levels[hour] + levels[(hour + 1) % 24]), hour: hour)
        }
        segmentPrefix = prefix
        dayIntegral = running
    }

    /// The relative load at `time`.
    public func level(at time: Timestamp) -> Double {
        let (hour, ms) = position(of: time)
        let k0 = Double(levels[hour]), k1 = Double(levels[(hour + 1) % 24])
        return (k0 + (k1 - k0) * Double(ms) / Double(LoadShape.hourMilliseconds)) / Double(LoadShape.levelUnits)
    }

    /// The integral of the level from `referenceEpoch` to `time`, in hours, split by tariff.
    /// Non-decreasing in `time`, exactly.
    public func integral(to time: Timestamp) -> TariffHours {
        let elapsed = max(0, time.milliseconds - LoadShape.referenceEpoch.milliseconds)
        let days = Int128(elapsed / 86_400_000)
        var exact = ExactHours(day: dayIntegral.day * days, night: dayIntegral.night * days)
        let (hour, ms) = position(of: time)
        let k0 = Int128(levels[hour]), k1 = Int128(levels[(hour + 1) % 24]), m = Int128(ms)
        exact.day += segmentPrefix[hour].day
        exact.night += segmentPrefix[hour].night
        exact.add(2 * Int128(LoadShape.hourMilliseconds) * k0 * m + (k1 - k0) * m * m, hour: hour)
        return TariffHours(day: Double(exact.day) / LoadShape.unitsPerLevelHour,
                           night: Double(exact.night) / LoadShape.unitsPerLevelHour)
    }

    /// The hour of day (UTC) of `time` and the milliseconds into that hour.
    private func position(of time: Timestamp) -> (Int, Int64) {
        let clamped = max(time.milliseconds, LoadShape.referenceEpoch.milliseconds)
        let msOfDay = clamped % 86_400_000
        return (Int(msOfDay / LoadShape.hourMilliseconds), msOfDay % LoadShape.hourMilliseconds)
    }
}
