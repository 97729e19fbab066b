import ConcentratorCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// When an event happens on a day, or why it does not: at high latitudes the Sun may stay above
/// (polar day, white nights) or below (polar night) the event's altitude for the whole day.
public enum SolarEventTime: Hashable, Sendable {
    case at(Timestamp)
    /// The Sun stays above the event's altitude all day (no sunset in polar day, no dusk in white nights).
    case sunAlwaysAbove
    /// The Sun stays below the event's altitude all day (no sunrise in polar night).
    case sunAlwaysBelow

    public var time: Timestamp? {
        if case .at(let t) = self { return t }
        return nil
    }
}

/// Sunrise, sunset and civil twilight from NOAA's solar position equations (the NOAA Solar
/// Calculator spreadsheet, after Meeus, *Astronomical Algorithms*, ch. 25 and 28): the Sun's
/// declination and the equation of time at the event's own instant, iterated until the instant
/// settles. Accuracy: within a minute of the USNO tables between ±65° latitude, and more loosely on
/// the days next to polar day or night at higher latitudes (where the Sun grazes the horizon and a
/// small altitude error moves the event by minutes). Pure: no clock.
public enum SolarCalculator {
    /// The Sun's declination (degrees) and the equation of time (minutes) at `julianDay` (UT).
    public static func position(julianDay: Double) -> (declination: Double, equationOfTimeMinutes: Double) {
        let t = (julianDay - 2_451_545.0) / 36_525.0
        var l0 = (280.46646 + t * (36_000.76983 + t * 0.0003032)).truncatingRemainder(dividingBy: 360)
        if l0 < 0 { l0 += 360 }
        let m = 357.52911 + t * (35_999.05029 - 0.0001537 * t)
        let e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
        let mr = radians(m)
        let center = sin(mr) * (1.914602 - t * (0.004817 + 0.000014 * t)) + sin(2 * mr) * (0.019993 - 0.000101 * t)
            + sin(3 * mr) * 0.000289
        let omega = radians(125.04 - 1934.136 * t)
        let apparentLongitude = l0 + center - 0.00569 - 0.00478 * sin(omega)
        let meanObliquity = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60
        let obliquity = meanObliquity + 0.00256 * cos(omega)
        let declination = degrees(asin(sin(radians(obliquity)) * sin(radians(apparentLongitude))))
        let y = pow(tan(radians(obliquity) / 2), 2)
        let l0r = radians(l0)
        let eot = y * sin(2 * l0r) - 2 * e * sin(mr) + 4 * e * y * sin(mr) * cos(2 * l0r)
            - 0.5 * y * y * sin(4 * l0r) - 1.25 * e * e * sin(2 * mr)
        return (declination, 4 * degrees(eot))
    }

    /// The Julian day of an instant.
    public static func julianDay(_ time: Timestamp) -> Double { Double(time.milliseconds) / 86_400_000.0 + 2_440_587.5 }

    /// The instant of `event` on the local `date` at `location` (latitude north positive, longitude
    /// east positive), with `zone` deciding which instants belong to that date.
    public static func time(of event: SolarEvent, on date: LocalDate, latitude: Double, longitude: Double,
                            zone: ZoneRules) -> SolarEventTime {
        // The solar day whose transit falls on the local date: try the UT day with the same number,
        // then its neighbours (zones far from their meridian, and events near local midnight).
        var polar: SolarEventTime?
        for shift in [0, -1, 1] {
            let result = onSolarDay(event, utDay: date.daysSinceEpoch + Int64(shift), latitude: latitude, longitude: longitude)
            switch result {
            case .at(let t):
                if zone.localDateTime(at: t).date == date { return result }
            default:
                if shift == 0 { polar = result }
            }
        }
        if let polar { return polar }
        // The event falls outside the local date on every neighbouring solar day (it happens once on
        // an adjacent date instead): the Sun is on the near side of the altitude the whole date.
        let noon = transit(utDay: date.daysSinceEpoch, longitude: longitude)
        let (declination, _) = position(julianDay: julianDay(noon))
        let noonAltitude = 90 - abs(latitude - declination)
        return noonAltitude > event.altitude ? .sunAlwaysAbove : .sunAlwaysBelow
    }

    /// Solar noon (the Sun's transit) of the solar day around UT noon of day `utDay` minus longitude.
    public static func transit(utDay: Int64, longitude: Double) -> Timestamp {
        var minutes = 720 - 4 * longitude
        for _ in 0..<3 {
            let jd = Double(utDay) + 2_440_587.5 + minutes / 1440
            minutes = 720 - 4 * longitude - position(julianDay: jd).equationOfTimeMinutes
        }
        return instant(utDay: utDay, minutes: minutes)
    }

    /// The event on the solar day around day `utDay`'s transit.
    static func onSolarDay(_ event: SolarEvent, utDay: Int64, latitude: Double, longitude: Double) -> SolarEventTime {
        let noon = transit(utDay: utDay, longitude: longitude)
        var minutes = Double(noon.milliseconds - Timestamp(seconds: utDay * 86_400).milliseconds) / 60_000
        // Start at the transit; each step recomputes the Sun at the latest estimate of the event.
        var jd = julianDay(noon)
        for _ in 0..<6 {
            let (declination, eot) = position(julianDay: jd)
            guard let ha = hourAngle(altitude: event.altitude, latitude: latitude, declination: declination) else {
                let noonAltitude = 90 - abs(latitude - declination)
                return noonAltitude > event.altitude ? .sunAlwaysAbove : .sunAlwaysBelow
            }
            let transitMinutes = 720 - 4 * longitude - eot
            let next = event.isRising ? transitMinutes - 4 * ha : transitMinutes + 4 * ha
            let settled = abs(next - minutes) < 0.01
            minutes = next
            jd = Double(utDay) + 2_440_587.5 + minutes / 1440
            if settled { break }
        }
        return .at(instant(utDay: utDay, minutes: minutes))
    }

    /// The hour angle (degrees) at which the Sun's centre is at `altitude`, or nil when it never is.
    static func hourAngle(altitude: Double, latitude: Double, declination: Double) -> Double? {
        let phi = radians(latitude), delta = radians(declination)
        let cosH = (sin(radians(altitude)) - sin(phi) * sin(delta)) / (cos(phi) * cos(delta))
        guard cosH >= -1, cosH <= 1 else { return nil }
        return degrees(acos(cosH))
    }

    private static func instant(utDay: Int64, minutes: Double) -> Timestamp {
        Timestamp(milliseconds: utDay * 86_400_000 + Int64((minutes * 60_000).rounded()))
    }

    private static func radians(_ d: Double) -> Double { d * .pi / 180 }
    private static func degrees(_ r: Double) -> Double { r * 180 / .pi }
}
