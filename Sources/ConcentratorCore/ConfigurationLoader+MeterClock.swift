/// `polling.meterClock`: when the snapshot cycle sets meter clocks (DLMS class 8, IEC 62056-21 W1).
extension ConfigurationLoader {
    /// A meter clock is set when it is off by more than this many seconds (1 s to 1 h).
    static let meterClockThresholdRange = 1...3600
    static let defaultMeterClockThresholdSeconds = 10

    static func readMeterClock(_ r: JSONObjectReader) -> MeterClockPolicy {
        let threshold = r.int("thresholdSeconds", in: meterClockThresholdRange) ?? defaultMeterClockThresholdSeconds
        r.finish()
        return MeterClockPolicy(thresholdSeconds: threshold)
    }
}
