import ConcentratorCore

/// One delivery point (POD) of an energy community, with the device that measures it and its data
/// for the export period. Plain values: the head-end fills them from its store, a test by hand.
public struct CERDevice: Hashable, Sendable {
    /// The point of delivery (Italian POD, e.g. `IT001E12345678`), configured per meter.
    public var pod: String
    /// The concentrator (gateway device id) and the meter id on it.
    public var gateway: String
    public var meter: MeterID
    public var serialNumber: String?
    /// 15-minute withdrawal and injection, in time order.
    public var quarterHours: [LoadCurvePoint]
    /// Hourly withdrawal and injection (the meter's hourly archive, or `LoadCurveDeriver.hourly`).
    public var hours: [LoadCurvePoint]
    /// The energy counters at the end of the period.
    public var totalizers: CERTotalizers?
    /// The last instantaneous active power.
    public var instantPower: CERInstantPower?

    public init(pod: String, gateway: String, meter: MeterID, serialNumber: String? = nil, quarterHours: [LoadCurvePoint] = [],
                hours: [LoadCurvePoint] = [], totalizers: CERTotalizers? = nil, instantPower: CERInstantPower? = nil) {
        self.pod = pod
        self.gateway = gateway
        self.meter = meter
        self.serialNumber = serialNumber
        self.quarterHours = quarterHours
        self.hours = hours
        self.totalizers = totalizers
        self.instantPower = instantPower
    }

    /// The device id in the export: `<gateway>/<meter>`.
    public var deviceID: String { gateway + "/" + meter.rawValue }
}

/// Energy counter readings (kWh): active import (withdrawal, +A) and export (injection, −A).
public struct CERTotalizers: Hashable, Sendable {
    public var time: Timestamp
    public var withdrawalKWh: Double?
    public var injectionKWh: Double?

    public init(time: Timestamp, withdrawalKWh: Double?, injectionKWh: Double?) {
        self.time = time
        self.withdrawalKWh = withdrawalKWh
        self.injectionKWh = injectionKWh
    }
}

/// Instantaneous active power in watts: positive while withdrawing, negative while injecting.
public struct CERInstantPower: Hashable, Sendable {
    public var time: Timestamp
    public var watts: Double

    public init(time: Timestamp, watts: Double) {
        self.time = time
        self.watts = watts
    }
}

/// The whole export: many PODs in one document.
public struct CERExportDocument: Hashable, Sendable {
    public var generatedAt: Timestamp
    /// The period covered, [from, to).
    public var from: Timestamp
    public var to: Timestamp
    /// The zone local times are written in (the site's); nil: UTC only.
    public var zone: ZoneRules?
    public var devices: [CERDevice]

    public init(generatedAt: Timestamp, from: Timestamp, to: Timestamp, zone: ZoneRules? = nil, devices: [CERDevice]) {
        self.generatedAt = generatedAt
        self.from = from
        self.to = to
        self.zone = zone
        self.devices = devices
    }
}

/// The energy-community (CER) export as JSON (`Docs/cer-export.schema.json`) and as CSV for
/// spreadsheets. Pure: values in, text out. Energies have three decimals (Wh), power one (0.1 W).
/// Docs/cer-export.md describes every field.
public enum CERExportCodec {
    public static let format = "concentrator-cer-export"
    public static let version = 1

    /// The JSON document (pretty, two-space indent, stable member order).
    public static func json(_ doc: CERExportDocument) -> String {
        var top: [JSONMember] = [
            member("format", .string(format)),
            member("version", int(version)),
            member("generatedAt", .string(ISO8601.format(doc.generatedAt))),
            member("period", .object([member("from", .string(ISO8601.format(doc.from))), member("to", .string(ISO8601.format(doc.to)))])),
        ]
        if let zone = doc.zone { top.append(member("timeZone", .string(zone.name))) }
        top.append(member("devices", .array(doc.devices.map { device($0, zone: doc.zone) })))
        return JSONWriter.render(.object(top), pretty: true) + "\n"
    }

    private static func device(_ d: CERDevice, zone: ZoneRules?) -> JSONValue {
        var m: [JSONMember] = [
            member("pod", .string(d.pod)),
            member("deviceId", .string(d.deviceID)),
            member("gateway", .string(d.gateway)),
            member("meter", .string(d.meter.rawValue)),
        ]
        if let serial = d.serialNumber { m.append(member("serialNumber", .string(serial))) }
        if let t = d.totalizers {
            m.append(member("totalizers", .object([
                member("time", .string(ISO8601.format(t.time))),
                member("withdrawalKWh", energy(t.withdrawalKWh)),
                member("injectionKWh", energy(t.injectionKWh)),
            ])))
        }
        if let p = d.instantPower {
            m.append(member("instantPower", .object([
                member("time", .string(ISO8601.format(p.time))),
                member("watts", number(p.watts, digits: 1)),
            ])))
        }
        m.append(member("quarterHours", .array(d.quarterHours.map { point($0, zone: zone) })))
        m.append(member("hours", .array(d.hours.map { point($0, zone: zone) })))
        return .object(m)
    }

    private static func point(_ p: LoadCurvePoint, zone: ZoneRules?) -> JSONValue {
        var m: [JSONMember] = [member("start", .string(ISO8601.format(p.start)))]
        if let zone { m.append(member("startLocal", .string(localText(p.start, zone: zone)))) }
        m += [
            member("withdrawalKWh", energy(p.withdrawalKWh)),
            member("injectionKWh", energy(p.injectionKWh)),
            member("source", .string(p.source.rawValue)),
            member("quality", .array(p.flags.names.map { .string($0) })),
        ]
        return .object(m)
    }

    /// The curves as CSV: one row per POD and interval, 15-minute rows first, then hourly rows.
    public static func curvesCSV(_ doc: CERExportDocument) -> String {
        var out = CSVField.line(["pod", "device_id", "serial_number", "resolution_minutes", "start_utc", "start_local",
                                 "withdrawal_kwh", "injection_kwh", "source", "quality"])
        for d in doc.devices {
            for p in d.quarterHours + d.hours {
                out += CSVField.line([
                    d.pod, d.deviceID, d.serialNumber ?? "", String(p.minutes), ISO8601.format(p.start),
                    doc.zone.map { localText(p.start, zone: $0) } ?? "", energyText(p.withdrawalKWh), energyText(p.injectionKWh),
                    p.source.rawValue, p.flags.names.joined(separator: "+"),
                ])
            }
        }
        return out
    }

    /// The devices as CSV: one row per POD with totalizers and instant power.
    public static func devicesCSV(_ doc: CERExportDocument) -> String {
        var out = CSVField.line(["pod", "device_id", "gateway", "meter", "serial_number", "totalizers_time", "withdrawal_total_kwh",
                                 "injection_total_kwh", "power_time", "power_w"])
        for d in doc.devices {
            out += CSVField.line([
                d.pod, d.deviceID, d.gateway, d.meter.rawValue, d.serialNumber ?? "",
                d.totalizers.map { ISO8601.format($0.time) } ?? "", energyText(d.totalizers?.withdrawalKWh),
                energyText(d.totalizers?.injectionKWh), d.instantPower.map { ISO8601.format($0.time) } ?? "",
                d.instantPower.map { DecimalText.fixed($0.watts, fractionDigits: 1) } ?? "",
            ])
        }
        return out
    }

    /// `2026-03-29T03:00:00+02:00`: the wall-clock time with its offset.
    public static func localText(_ t: Timestamp, zone: ZoneRules) -> String {
        let local = zone.localDateTime(at: t)
        let offset = zone.utcOffsetSeconds(at: t)
        let sign = offset < 0 ? "-" : "+"
        let a = abs(offset)
        return local.date.description + "T" + pad(local.hour, 2) + ":" + pad(local.minute, 2) + ":" + pad(local.secondsOfDay % 60, 2)
            + sign + pad(a / 3600, 2) + ":" + pad(a / 60 % 60, 2)
    }

    static func energyText(_ v: Double?) -> String { v.map { DecimalText.fixed($0, fractionDigits: 3) } ?? "" }

    private static func energy(_ v: Double?) -> JSONValue { v.map { number($0, digits: 3) } ?? .null }
    private static func number(_ v: Double, digits: Int) -> JSONValue { .number(v, text: DecimalText.fixed(v, fractionDigits: digits)) }
    private static func int(_ v: Int) -> JSONValue { .number(Double(v), text: String(v)) }
    private static func member(_ key: String, _ value: JSONValue) -> JSONMember { JSONMember(key: key, value: value) }
}
