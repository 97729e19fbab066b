/// The `archive` section: interval lengths and how long history is kept.
extension ConfigurationLoader {
    /// Main archive interval lengths. Hourly is the norm; 15 and 30 minutes serve sites that bill
    /// on shorter intervals.
    static let archiveIntervals = [15, 30, 60]
    /// Short load profile interval lengths.
    static let profileIntervals = [5, 10, 15, 30]
    static let retentionDaysRange = 30...45
    /// 64 KiB … 1 TiB of free space.
    static let storageLowFreeBytesRange = (64 << 10)...(1 << 40)
    /// 64 KiB … 64 MiB held back for events about a full disk.
    static let storageReserveBytesRange = (64 << 10)...(64 << 20)

    static func readArchive(_ input: ConfigurationSectionInput, into draft: inout ConfigurationDraft) {
        guard let r = input.object() else { return }
        let defaults = ArchiveSettings()
        let intervalGiven = r.int("intervalMinutes", oneOf: archiveIntervals)
        let interval = intervalGiven ?? defaults.intervalMinutes
        var profileInterval = r.int("profileIntervalMinutes", oneOf: profileIntervals) ?? defaults.profileIntervalMinutes
        let retention = r.int("retentionDays", in: retentionDaysRange) ?? defaults.retentionDays
        let lowFree = r.int("storageLowFreeBytes", in: storageLowFreeBytesRange) ?? defaults.storageLowFreeBytes
        let reserve = r.int("storageReserveBytes", in: storageReserveBytesRange) ?? defaults.storageReserveBytes
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
                                        retentionDays: retention, storageLowFreeBytes: lowFree, storageReserveBytes: reserve)
    }
}
