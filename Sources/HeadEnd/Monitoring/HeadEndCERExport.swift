import ConcentratorCore
import Monitoring

/// The energy-community exports from the stored data (Docs/cer-export.md): for every meter with a
/// POD (its `meter_identity` events) the 15-minute and hourly withdrawal and injection curves,
/// derived here from the counter reads the device sent (`LoadCurveDeriver`, marked `derived`; a
/// meter's own load profile has no path to the head-end yet), the totalizers and the instant power;
/// and the monthly report. The curves are computed on the head-end so that late batches (a backlog
/// after an uplink outage) change the result of the next export, with nothing to recompute.
/// Written once over `HeadEndStore`, for both stores (SQLite and PostgreSQL).
enum CERQuantities {
    /// The counter (+A, −A) and power quantities the export reads.
    static let importCounter: QuantityID = "active_energy_import"
    static let exportCounter: QuantityID = "active_energy_export"
    static let activePower: QuantityID = "active_power_total"

    /// Hours summed from the quarter-hours; an hour whose quarters are not all there is derived from
    /// the reads at the hour boundaries instead (a meter read hourly, or a quarter-hour read missing):
    /// exact or interpolated over at most two hours.
    static func hours(quarters: [LoadCurvePoint], importReads: [CounterRead], exportReads: [CounterRead]?, from: Timestamp,
                      to: Timestamp) -> [LoadCurvePoint] {
        let summed = LoadCurveDeriver.hourly(quarters)
        guard summed.contains(where: { $0.withdrawalKWh == nil }) else { return summed }
        let options = LoadCurveDeriver.Options(intervalMinutes: 60, maxInterpolationSpanSeconds: 7200)
        var direct: [Timestamp: LoadCurvePoint] = [:]
        for p in LoadCurveDeriver.derive(importReads: importReads, exportReads: exportReads, from: from, to: to, options: options) {
            direct[p.start] = p
        }
        return summed.map { hour in
            guard hour.withdrawalKWh == nil, let d = direct[hour.start], d.withdrawalKWh != nil else { return hour }
            return d
        }
    }
}

extension HeadEndStore {

    /// The CER document for `from..<to` (UTC quarter-hours) of every registered device, or of `device`.
    public func cerDocument(from: Timestamp, to: Timestamp, device: String? = nil, zone: ZoneRules?,
                            generatedAt: Timestamp) throws(HeadEndError) -> CERExportDocument {
        var devices: [CERDevice] = []
        for name in try deviceNames(only: device) {
            for (meter, identity) in try meterIdentities(device: name).sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                guard let pod = identity.pod else { continue }
                let reads = try meterReads(device: name, meter: meter, from: from.adding(seconds: -7200), to: to.adding(seconds: 7200))
                let imports = reads[CERQuantities.importCounter] ?? [], exports = reads[CERQuantities.exportCounter]
                let quarters = LoadCurveDeriver.derive(importReads: imports, exportReads: exports, from: from, to: to)
                let lastImport = imports.last { $0.time < to }, lastExport = exports?.last { $0.time < to }
                let totalizers = (lastImport ?? lastExport).map { read in
                    CERTotalizers(time: max(lastImport?.time ?? read.time, lastExport?.time ?? read.time),
                                  withdrawalKWh: lastImport?.value, injectionKWh: lastExport?.value)
                }
                let power = reads[CERQuantities.activePower]?.last { $0.time < to }.map { CERInstantPower(time: $0.time, watts: $0.value) }
                devices.append(CERDevice(pod: pod, gateway: name, meter: meter, serialNumber: identity.serialNumber, quarterHours: quarters,
                                         hours: CERQuantities.hours(quarters: quarters, importReads: imports, exportReads: exports, from: from, to: to),
                                         totalizers: totalizers, instantPower: power))
            }
        }
        return CERExportDocument(generatedAt: generatedAt, from: from, to: to, zone: zone, devices: devices.sorted { $0.pod < $1.pod })
    }

    /// The monthly report of `year`-`month` (UTC month) over every registered device.
    public func monthlyReport(year: Int, month: Int, generatedAt: Timestamp) throws(HeadEndError) -> MonthlyReportInput {
        let start = Timestamp(seconds: ISO8601.daysFromCivil(Int64(year), Int64(month), 1) * 86_400)
        let end = Timestamp(seconds: ISO8601.daysFromCivil(Int64(year + month / 12), Int64(month % 12 + 1), 1) * 86_400)
        var consumption: [MonthlyReportInput.Consumption] = []
        var zero: [MonthlyReportInput.ZeroConsumption] = []
        var statuses: [MonthlyReportInput.DeviceStatus] = []
        let alarms = try self.alarms(until: end)
        let reports = try statusReports()
        for name in try deviceNames(only: nil) {
            let identities = try meterIdentities(device: name)
            let report = reports.first { $0.device == name }
            statuses.append(.init(gateway: name, meter: nil, status: report?.reported?.state ?? "unknown", lastSeen: report?.lastSeen))
            let meterState = try meterStates(device: name, until: end)
            for meter in try meterNames(device: name) {
                let pod = identities[meter]?.pod
                let reads = try meterReads(device: name, meter: meter, from: start, to: end)
                let imports = reads[CERQuantities.importCounter] ?? []
                let used = MonthlyReportCodec.consumption(reads: imports.map { CounterRead(time: $0.time, value: $0.value) }, start: start, end: end)
                let exports = (reads[CERQuantities.exportCounter] ?? []).map { CounterRead(time: $0.time, value: $0.value) }
                let injected = MonthlyReportCodec.consumption(reads: exports, start: start, end: end)
                consumption.append(.init(gateway: name, meter: meter, pod: pod, startKWh: used?.first, endKWh: used?.last,
                                         withdrawalKWh: used?.used, injectionKWh: injected?.used))
                let zeroAlarm = alarms.first { $0.device == name && $0.key.meter == meter && $0.isOpen && $0.key.rule.contains("zero") }
                if let zeroAlarm {
                    zero.append(.init(gateway: name, meter: meter, pod: pod, since: zeroAlarm.raisedAt ?? zeroAlarm.changedAt, rule: zeroAlarm.key.rule))
                } else if let used, used.used == 0, let first = imports.first {
                    zero.append(.init(gateway: name, meter: meter, pod: pod, since: first.time, rule: nil))
                }
                let state = meterState[meter]
                statuses.append(.init(gateway: name, meter: meter, status: state?.online == false ? "offline" : "online",
                                      lastSeen: reads.values.flatMap { $0 }.map(\.time).max() ?? state?.time))
            }
        }
        let open = alarms.filter(\.isOpen).map {
            MonthlyReportInput.OpenAlarm(gateway: $0.device, key: $0.key, phase: $0.phase, severity: $0.severity,
                                         raisedAt: $0.raisedAt ?? $0.changedAt, value: $0.value, threshold: $0.threshold)
        }
        return MonthlyReportInput(year: year, month: month, generatedAt: generatedAt, consumption: consumption, zeroConsumption: zero,
                                  openAlarms: open, devices: statuses)
    }

    // MARK: Queries

    private func deviceNames(only: String?) throws(HeadEndError) -> [String] {
        let names = try devices().filter(\.registered).map(\.name)
        guard let only else { return names }
        guard names.contains(only) else {
            throw HeadEndError.invalidRequest("device \(only) is not registered at this head-end (see: headend devices list)")
        }
        return [only]
    }

    private func meterNames(device: String) throws(HeadEndError) -> [MeterID] {
        try meters(ofDevice: device).map(\.name)
    }

    /// The newest meter_offline / meter_online event of each meter before `until`.
    private func meterStates(device: String, until: Timestamp) throws(HeadEndError) -> [MeterID: (online: Bool, time: Timestamp)] {
        var out: [MeterID: (online: Bool, time: Timestamp)] = [:]
        for stored in try storedEvents(device: device, kinds: [.meterOffline, .meterOnline], before: until) {
            guard let meter = stored.event.meter else { continue }
            out[meter] = (stored.event.kind == .meterOnline, stored.event.time)
        }
        return out
    }

    /// Every value of one meter in snapshots (both series) with interval starts in `from..<to`, per
    /// quantity, as (gateway time, value) in time order; a (time, quantity) stored in both series once.
    func meterReads(device: String, meter: MeterID, from: Timestamp, to: Timestamp) throws(HeadEndError) -> [QuantityID: [CounterRead]] {
        var byQuantity: [QuantityID: [Timestamp: Double]] = [:]
        for series in [SeriesKind.interval, .profile] {
            try forEachSnapshot(SnapshotQuery(device: device, meter: meter, series: series, from: from, to: to)) { snapshot in
                for v in snapshot.values { if let value = v.value { byQuantity[v.quantity, default: [:]][snapshot.gatewayTime] = value } }
            }
        }
        return byQuantity.mapValues { $0.sorted { $0.key < $1.key }.map { CounterRead(time: $0.key, value: $0.value) } }
    }
}
