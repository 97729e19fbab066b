import ConcentratorCore

/// The meter clock of a test read against the gateway clock: `meter clock 2026-12-02T07:55:03Z:
/// 4 min 2 s behind the gateway`. The offset is meter time minus gateway time at the
/// moment the read finished. Pure.
public enum MeterClockOffset {
    /// The offset in milliseconds (positive: the meter is ahead).
    public static func milliseconds(meter: Timestamp, gateway: Timestamp) -> Int64 { meter.milliseconds - gateway.milliseconds }

    /// `4 min 2 s`, `1 h 3 min`, `2 d 1 h`, `0.4 s` for an offset's size.
    public static func size(_ milliseconds: Int64) -> String {
        let ms = milliseconds.magnitude
        if ms < 10_000 { return ReadingView.number(Double(ms) / 1000) + " s" }
        let s = ms / 1000
        switch s {
        case ..<60: return "\(s) s"
        case ..<3600: return "\(s / 60) min" + (s % 60 == 0 ? "" : " \(s % 60) s")
        case ..<86_400: return "\(s / 3600) h" + (s / 60 % 60 == 0 ? "" : " \(s / 60 % 60) min")
        default: return "\(s / 86_400) d" + (s / 3600 % 24 == 0 ? "" : " \(s / 3600 % 24) h")
        }
    }

    /// The clock line of a snapshot, or nil when the meter gave no clock.
    public static func line(_ snapshot: MeterSnapshot) -> String? {
        guard let meter = snapshot.meterTime else { return nil }
        let offset = milliseconds(meter: meter, gateway: snapshot.gatewayTime)
        let relation: String
        if offset.magnitude < 1000 {
            relation = "in step with the gateway (\(size(offset)) off)"
        } else {
            relation = "\(size(offset)) \(offset > 0 ? "ahead of" : "behind") the gateway"
        }
        return "meter clock \(ISO8601.format(meter)): \(relation)" + (snapshot.clockUnsynced ? "; the gateway clock is NOT synchronised" : "")
    }
}
