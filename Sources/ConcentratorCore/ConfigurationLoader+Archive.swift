/// The `archive` section: interval lengths and how long history is kept.
extension ConfigurationLoader {
    /// Main archive interval lengths. Hourly is the norm; 15 and 30 minutes serve sites that bill
    /// on shorter intervals.
    static let archiveIntervals = [15, 30, 60]
    /// Short load profile interval lengths.
    static let profileIntervals = [5, 10, 15, 30]
    static let retentionDaysRange = 30...45

    static func readArchive(_ input: ConfigurationSectionInput, into draft: inout ConfigurationDraft) {
        guard let r = input.object() else { return }
        let defaults = ArchiveSettings()
        let intervalGiven = r.int("intervalMinutes", oneOf: archiveIntervals)
        let interval = intervalGiven ?? defaults.intervalMinutes
        var profileInterval = r.int("profileIntervalMinutes", oneOf: profileIntervals) ?? defaults.profileIntervalMinutes
        let retention = r.int("retentionDays", in: retentionDaysRange) ?? defaults.retentionDays
        r.finish()
        let intervalValid = intervalGiven != nil || r.member("intervalMinutes") == nil
        if let p = profileInterval, intervalValid, p >= interval || interval % p != 0 {
            let fitting = profileIntervals.filter { $0 < interval && interval % $0 == 0 }.map(String.init)
            let member = r.member("profileIntervalMinutes")
            r.collector.add(path: r.path + ".profileIntervalMinutes", line: member?.line,
                            problem: "does not fit the archive interval of \(interval) minutes", value: member?.value,
                            expected: "shorter than intervalMinutes and dividing it evenly: " + fitting.joined(separator: ", "))
            profileInterval = nil
        }
        draft.archive = ArchiveSettings(intervalMinutes: interval, profileIntervalMinutes: profileInterval,
                                        retentionDays: retention)
    }
}
