import Archive
import Bus
import ConcentratorCore
import KeyFiles
import Logging
import Platform
import Uplink
import Wire

extension Agent {
    /// The interval schedule of each configured series.
    static func schedules(_ archive: ArchiveSettings) -> [SeriesKind: IntervalSchedule] {
        var s: [SeriesKind: IntervalSchedule] = [.interval: IntervalSchedule(minutes: archive.intervalMinutes)]
        if let p = archive.profileIntervalMinutes { s[.profile] = IntervalSchedule(minutes: p) }
        return s
    }

    /// The device's own keys, generated into `<state>/keys/` at first start (mode 0600).
    static func deviceKeys(stateDirectory: String, logger: Logger) -> DeviceKeys? {
        do {
            let (keys, created) = try DeviceKeyStore(stateDirectory: stateDirectory).loadOrCreate()
            let verb = created.isEmpty ? "loaded" : "generated"
            logger.info("device keys \(verb): signing \(keys.signing.id), agreement \(keys.agreement.id) (show them with: concentrator keys show)")
            return keys
        } catch {
            logger.critical("device keys unusable: \(error); batches cannot be signed until this is fixed (check \(stateDirectory)/keys)")
            return nil
        }
    }

    /// Starts the uplink if the configuration has one, handing its command messages to the command
    /// processor. If it cannot start (a missing key file, say), the agent keeps archiving and
    /// queueing: nothing is lost, and it is sent once the cause is fixed.
    func makeUplink(_ setup: AgentSetup, keys: DeviceKeys?, archive: ArchiveStore, startupGrace: Duration) -> UplinkService? {
        guard let settings = setup.config.uplink else { return nil }
        guard let keys else { return nil }
        do {
            let service = try UplinkService(settings: settings, deviceID: setup.config.device.id, keys: keys, archive: archive,
                                            schedules: Self.schedules(setup.config.archive), clock: options.clock, logger: logger,
                                            startupGrace: startupGrace, busHealth: { [weak self] in self?.busHealth() ?? [] })
            // The command processor starts after the uplink (its component comes later); until then
            // a command message finds none and is dropped (the head-end sends it again).
            service.receiveCommands { [weak self] in self?.commands?.submit($0) }
            if let recorder = events { service.reportEvents { recorder.record($0) } }
            try service.start()
            return service
        } catch {
            logger.critical("uplink not started: \(error); readings keep being archived and queued for it")
            events?.record(GatewayEvent(time: options.clock.now(), kind: .configApplied, severity: .error,
                                        message: "uplink not started: \(error)"))
            return nil
        }
    }

    func busHealth() -> [UplinkStatusDocument.Bus] {
        currentBuses.map { b in
            let s = b.status()
            return UplinkStatusDocument.Bus(name: s.name.rawValue, portOpen: s.portOpen, metersAnswering: s.metersOnline,
                                            meters: s.meters.count)
        }
    }

    /// Drops outbox entries whose data fell out of the archive's retention (`cutoff` comes from the
    /// checked clock, see `RetentionRunner`): logged, reported as an event and counted in the status
    /// (the outbox is bounded by the retention, never by less).
    func dropExpiredOutbox(cutoff: Timestamp, archive: ArchiveStore, retentionDays: Int) {
        let now = options.clock.now()
        guard let dropped = try? archive.performBlocking(.dropOutbox(endingBefore: cutoff)), !dropped.isEmpty else { return }
        let message = "\(dropped.count) unacknowledged batches older than the \(retentionDays)-day retention were dropped (sequences \(dropped.first!)…\(dropped.last!)); the head-end never confirmed them"
        logger.warning("\(message)")
        uplink?.recordDropped(dropped.count)
        events?.record(GatewayEvent(time: now, kind: .retentionDroppedUnsent, severity: .warning, message: message))
    }
}
