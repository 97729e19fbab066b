import ConcentratorCore

/// What the monthly report covers: consumption per meter, the meters without consumption, open
/// alarms and device status. Plain values; the head-end fills them from its store.
public struct MonthlyReportInput: Hashable, Sendable {
    /// One meter's consumption over the month, from its counter at the first and last read.
    public struct Consumption: Hashable, Sendable {
        public var gateway: String
        public var meter: MeterID
        public var pod: String?
        public var startKWh: Double?
        public var endKWh: Double?
        public var withdrawalKWh: Double?
        public var injectionKWh: Double?

        public init(gateway: String, meter: MeterID, pod: String?, startKWh: Double?, endKWh: Double?, withdrawalKWh: Double?,
                    injectionKWh: Double?) {
            self.gateway = gateway
            self.meter = meter
            self.pod = pod
            self.startKWh = startKWh
            self.endKWh = endKWh
            self.withdrawalKWh = withdrawalKWh
            self.injectionKWh = injectionKWh
        }
    }

    /// A meter whose counter did not grow (a zero-consumption alarm, or no increase in the month).
    public struct ZeroConsumption: Hashable, Sendable {
        public var gateway: String
        public var meter: MeterID
        public var pod: String?
        public var since: Timestamp
        public var rule: String?

        public init(gateway: String, meter: MeterID, pod: String?, since: Timestamp, rule: String?) {
            self.gateway = gateway
            self.meter = meter
            self.pod = pod
            self.since = since
            self.rule = rule
        }
    }

    /// An alarm still open at the end of the month.
    public struct OpenAlarm: Hashable, Sendable {
        public var gateway: String
        public var key: AlarmKey
        public var phase: AlarmPhase
        public var severity: GatewayEvent.Severity
        public var raisedAt: Timestamp
        public var value: Double?
        public var threshold: Double?

        public init(gateway: String, key: AlarmKey, phase: AlarmPhase, severity: GatewayEvent.Severity, raisedAt: Timestamp,
                    value: Double?, threshold: Double?) {
            self.gateway = gateway
            self.key = key
            self.phase = phase
            self.severity = severity
            self.raisedAt = raisedAt
            self.value = value
            self.threshold = threshold
        }
    }

    /// A gateway or meter and whether it answers.
    public struct DeviceStatus: Hashable, Sendable {
        public var gateway: String
        /// nil: the gateway itself.
        public var meter: MeterID?
        public var status: String
        public var lastSeen: Timestamp?

        public init(gateway: String, meter: MeterID?, status: String, lastSeen: Timestamp?) {
            self.gateway = gateway
            self.meter = meter
            self.status = status
            self.lastSeen = lastSeen
        }
    }

    public var year: Int
    public var month: Int
    public var generatedAt: Timestamp
    public var consumption: [Consumption]
    public var zeroConsumption: [ZeroConsumption]
    public var openAlarms: [OpenAlarm]
    public var devices: [DeviceStatus]

    public init(year: Int, month: Int, generatedAt: Timestamp, consumption: [Consumption], zeroConsumption: [ZeroConsumption],
                openAlarms: [OpenAlarm], devices: [DeviceStatus]) {
        self.year = year
        self.month = month
        self.generatedAt = generatedAt
        self.consumption = consumption
        self.zeroConsumption = zeroConsumption
        self.openAlarms = openAlarms
        self.devices = devices
    }
}

/// The monthly report as one CSV file of four sections, each a title line, a header line and its
/// rows, separated by an empty line (spreadsheets open it as one sheet). Pure. Docs/cer-export.md,
/// "Monthly report".
public enum MonthlyReportCodec {
    public static let sections = ["consumption", "zero_consumption", "open_alarms", "device_status"]

    public static func csv(_ r: MonthlyReportInput) -> String {
        var out = CSVField.line(["monthly_report", pad(r.year, 4) + "-" + pad(r.month, 2), "generated", ISO8601.format(r.generatedAt)])
        out += "\r\n" + CSVField.line([sections[0]])
        out += CSVField.line(["gateway", "meter", "pod", "start_kwh", "end_kwh", "withdrawal_kwh", "injection_kwh"])
        for c in r.consumption {
            out += CSVField.line([c.gateway, c.meter.rawValue, c.pod ?? "", e(c.startKWh), e(c.endKWh), e(c.withdrawalKWh), e(c.injectionKWh)])
        }
        out += "\r\n" + CSVField.line([sections[1]])
        out += CSVField.line(["gateway", "meter", "pod", "since", "rule"])
        for z in r.zeroConsumption {
            out += CSVField.line([z.gateway, z.meter.rawValue, z.pod ?? "", ISO8601.format(z.since), z.rule ?? ""])
        }
        out += "\r\n" + CSVField.line([sections[2]])
        out += CSVField.line(["gateway", "rule", "meter", "phase", "severity", "raised_at", "value", "threshold"])
        for a in r.openAlarms {
            out += CSVField.line([a.gateway, a.key.rule, a.key.meter.rawValue, a.phase.name, severityName(a.severity), ISO8601.format(a.raisedAt),
                                  a.value.map { DecimalText.format($0, maximumFractionDigits: 6) } ?? "",
                                  a.threshold.map { DecimalText.format($0, maximumFractionDigits: 6) } ?? ""])
        }
        out += "\r\n" + CSVField.line([sections[3]])
        out += CSVField.line(["gateway", "meter", "status", "last_seen"])
        for d in r.devices {
            out += CSVField.line([d.gateway, d.meter?.rawValue ?? "", d.status, d.lastSeen.map(ISO8601.format) ?? ""])
        }
        return out
    }

    /// A month's consumption from one counter's reads: the first read at or after `start` and the
    /// last before `end`; nil when there is no read or the counter went down (reset or replacement).
    public static func consumption(reads: [CounterRead], start: Timestamp, end: Timestamp) -> (first: Double, last: Double, used: Double)? {
        let inMonth = LoadCurveDeriver.normalized(reads).filter { $0.time >= start && $0.time < end }
        guard let first = inMonth.first, let last = inMonth.last else { return nil }
        let path = inMonth.map(\.value)
        guard !zip(path, path.dropFirst()).contains(where: { $1 < $0 }) else { return nil }
        return (first.value, last.value, last.value - first.value)
    }

    static func severityName(_ s: GatewayEvent.Severity) -> String {
        switch s {
        case .info: return "info"
        case .warning: return "warning"
        case .error: return "error"
        case .critical: return "critical"
        }
    }

    private static func e(_ v: Double?) -> String { CERExportCodec.energyText(v) }
}
