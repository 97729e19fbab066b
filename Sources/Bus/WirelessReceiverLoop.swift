import ConcentratorCore
import MeterProtocols
import Platform

/// The state of a wireless M-Bus receiver bus (every meter `"protocol": "wmbus"`): an IMST iM871A
/// on the bus's port, the router that decrypts each telegram with its own meter's OMS key, the
/// latest reading of each meter in the running interval, and the problems already reported.
/// Lives on the bus thread only.
final class WirelessReceiverState {
    let meters: [MeterID: (settings: MeterSettings, profile: MeterProfile)]
    /// The link modes the receiver listens in (C1 and T1: meters of both kinds share a receiver).
    let mode: WirelessLinkMode = .c1t1
    var router: WirelessMeterRouter?
    /// Each meter's latest decoded reading and when it arrived.
    var latest: [MeterID: (values: [QuantityValue], at: Timestamp)] = [:]
    /// The last problem reported per meter (one event per distinct problem, not per telegram).
    var reported: [MeterID: String] = [:]
    var heardCount = 0

    init?(meters: [(MeterSettings, MeterProfile)]) {
        guard !meters.isEmpty, meters.allSatisfy({ $0.0.protocolKind == .wmbus }) else { return nil }
        self.meters = Dictionary(meters.map { ($0.0.id, (settings: $0.0, profile: $0.1)) }, uniquingKeysWith: { a, _ in a })
    }

    /// The router with each meter's key from its key file (`encryption`); a meter whose key file
    /// is missing or unreadable is routed without a key and its encrypted telegrams fail clearly.
    func makeRouter(_ services: BusMeterServices, report: (MeterID, String) -> Void) -> WirelessMeterRouter {
        var entries: [WirelessMeterEntry] = []
        for (id, m) in meters.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard case .wmbus(let address) = m.settings.address else { continue }
            var key: MeterKey?
            switch services.secrets?.secrets(for: id) {
            case .success(let secrets)?:
                key = secrets.secret(id: nil, kind: "encryption").flatMap { MeterKey(bytes: $0) }
            case .failure(let problem)?:
                if !problem.description.hasPrefix("no key file") { report(id, problem.description) }
            case nil:
                break
            }
            entries.append(WirelessMeterEntry(meter: id, address: address, key: key, map: m.profile.mbus))
        }
        return WirelessMeterRouter(meters: entries, cipher: SwiftCryptoOMSCipher())
    }
}

extension BusOwner {
    /// The receiver loop: configure the receiver (again after the port comes back), route every
    /// telegram, and at each interval boundary archive each meter's latest reading of the interval
    /// that ended (its gateway time is when the telegram arrived: the reading's age).
    func runWirelessReceiver(_ w: WirelessReceiverState) {
        w.router = w.makeRouter(services) { meter, problem in reportWireless(w, meter: meter, problem: problem, security: true) }
        var decoder: IM871AProtocol?
        var nextBoundary = intervals.nextBoundary(after: clock.now())
        var lastHeardPublish = ContinuousClock.now
        while !isStopRequested {
            publishUpdate { _ in }
            if decoder == nil {
                var session = WirelessReceiverConfigurationSession(receiver: IM871AProtocol(), mode: w.mode)
                let run = MeterSessionRunner(line: line).run(&session)
                switch run.result {
                case .success(let setup):
                    decoder = session.decoder
                    logger.info("wireless M-Bus receiver (\(IM871AProtocol.name)) listening in \(w.mode.rawValue) on \(settings.device)")
                    for frame in setup.telegrams { handleWireless(w, frame) }
                case .failure(let error):
                    logger.warning("wireless M-Bus receiver on \(settings.device): \(run.portFailure ?? error.description); retrying")
                    sleepThread(.seconds(2))
                    continue
                }
            }
            guard let port = line.port else {
                decoder = nil
                continue
            }
            switch port.readAvailable(within: .milliseconds(200)) {
            case .bytes(let bytes):
                for event in decoder!.receive(bytes) {
                    if case .telegram(let frame) = event { handleWireless(w, frame) }
                }
            case .timedOut:
                break
            case .failed(let code):
                line.portFailed("read failed (errno \(code))")
                decoder = nil
            }
            let now = clock.now()
            if now >= nextBoundary {
                storeWireless(w, boundary: intervals.start(containing: now))
                nextBoundary = intervals.nextBoundary(after: now)
            }
            if ContinuousClock.now - lastHeardPublish > .seconds(1) {
                lastHeardPublish = .now
                publishHeard(w)
            }
        }
        publishHeard(w)
    }

    private func handleWireless(_ w: WirelessReceiverState, _ frame: ReceivedRadioFrame) {
        let now = clock.now()
        guard let reception = w.router?.receive(frame, at: now) else { return }
        switch reception {
        case .reading(let meter, _, let values, _):
            w.latest[meter] = (values?.values ?? [], now)
            if w.reported.removeValue(forKey: meter) != nil { logger.notice("meter \(meter): telegrams decode again") }
            if let polled = meters.first(where: { $0.id == meter }) {
                polled.health.recordAnswer(at: now, error: nil)
                publish(polled)
            }
            publishUpdate(pollsDone: 1) { _ in }
        case .failed(let meter, _, let error):
            reportWireless(w, meter: meter, problem: error.description, security: error.kind == .security || error.kind == .noKey)
        case .heard(let heard):
            if heard.count == 1 {
                logger.info("heard wireless M-Bus meter \(heard.identity) (not configured; RSSI \(heard.lastRSSI.map { "\($0) dBm" } ?? "?"))")
            }
        case .undecodable:
            break
        }
    }

    /// One event per distinct problem of a meter (a wrong key: every telegram fails the same way).
    private func reportWireless(_ w: WirelessReceiverState, meter: MeterID, problem: String, security: Bool) {
        guard w.reported[meter] != problem else { return }
        w.reported[meter] = problem
        var log = logger
        log[metadataKey: "meter"] = .string(meter.rawValue)
        log.error("meter \(meter): \(problem)\(security ? "; check the meter's key file (keys, meter in the console)" : "")")
        onEvent(GatewayEvent(time: clock.now(), kind: security ? .meterSecurityFailure : .meterError, severity: .error, bus: name, meter: meter,
                             message: security ? "security failure: \(problem); check the meter's key" : problem))
    }

    /// Archives each meter's latest reading from the interval that ended at `boundary`.
    private func storeWireless(_ w: WirelessReceiverState, boundary: Timestamp) {
        let from = boundary.adding(milliseconds: -intervals.lengthMilliseconds)
        var snapshots: [MeterSnapshot] = []
        for (meter, reading) in w.latest.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where reading.at > from && reading.at <= boundary {
            snapshots.append(MeterSnapshot(meter: meter, intervalStart: boundary, gatewayTime: reading.at, values: reading.values))
        }
        guard !snapshots.isEmpty else { return }
        do {
            try sink.store(bus: name, series: .interval, intervalStart: boundary, snapshots: snapshots)
            logger.info("archived interval interval=\(boundary) meters=\(snapshots.count) answered=\(snapshots.count) values=\(snapshots.reduce(0) { $0 + $1.values.count }) source=wmbus")
        } catch {
            logger.error("wireless M-Bus: cannot store interval \(boundary): \(error)")
        }
    }

    /// The heard-but-not-configured list in the bus status, strongest first.
    private func publishHeard(_ w: WirelessReceiverState) {
        guard let entries = w.router?.heard.entries else { return }
        let heard = entries.map {
            HeardMeterStatus(address: $0.identity.secondaryAddressText, id: $0.identity.numberText, manufacturer: MBusManufacturer.letters($0.identity.manufacturer),
                             medium: $0.identity.medium, lastRSSI: $0.lastRSSI, count: $0.count, lastHeard: $0.lastHeard, securityMode: $0.securityMode)
        }
        publishUpdate { $0.heard = heard }
    }
}
