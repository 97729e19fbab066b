/// The `monitoring` section: location, alarm rules and the rate limit. Outputs and schedules are in
/// `ConfigurationLoader+Schedules.swift`. Docs/configuration.md, "monitoring".
extension ConfigurationLoader {
    public static let latitudeRange = -90.0...90.0
    public static let longitudeRange = -180.0...180.0
    public static let alarmRuleCountRange = 0...256
    public static let minimumDurationRange = 0...86_400
    public static let zeroConsumptionDaysRange = 1...45
    public static let spikeDaysRange = 3...28
    public static let spikeFactorRange = 1.5...100.0
    public static let rateLimitRange = 2...60
    public static let severityNames = ["info", "warning", "error", "critical"]
    public static let alarmKinds = ["threshold", "mains-absence", "flag", "communication-lost", "zero-consumption", "spike"]
    public static let phaseVoltages: [QuantityID] = ["voltage_l1", "voltage_l2", "voltage_l3"]
    static let timeZoneRule = "a zone of the system's database such as \"Europe/Rome\" (letters, digits, '_', '-', '+', '/')"

    static func readMonitoring(_ input: ConfigurationSectionInput, into draft: inout ConfigurationDraft) {
        guard let r = input.object() else { return }
        var settings = MonitoringSettings()
        if let o = r.object("location") { settings.location = readLocation(o) }
        let meters = MonitoringMeters(draft: draft, context: input.context)
        if let items = r.array("alarms") {
            checkCount(items.count, alarmRuleCountRange, noun: "alarm rules", path: r.path + ".alarms", line: r.member("alarms")?.line,
                       collector: r.collector)
            var seen: [String: String] = [:]
            for o in objects(items, collector: r.collector) {
                if let rule = readAlarmRule(o, meters: meters, seen: &seen) { settings.alarms.append(rule) }
            }
        }
        if let o = r.object("rateLimit") {
            settings.rateLimit.maxTransitionsPerHour = o.int("maxTransitionsPerHour", in: rateLimitRange)
                ?? settings.rateLimit.maxTransitionsPerHour
            o.finish()
        }
        readSwitching(r, meters: meters, into: &settings)
        r.finish()
        draft.monitoring = settings
    }

    /// The object readers of an array's elements (an element that is not an object gets an issue).
    static func objects(_ items: [(value: JSONValue, path: String, line: Int)], collector: IssueCollector) -> [JSONObjectReader] {
        items.compactMap { collector.object($0.value, at: $0.path, line: $0.value.members?.first?.line ?? $0.line) }
    }

    static func checkCount(_ count: Int, _ allowed: ClosedRange<Int>, noun: String, path: String, line: Int?, collector: IssueCollector) {
        guard !allowed.contains(count) else { return }
        collector.add(ValidationIssue(path: path, line: line, problem: count < allowed.lowerBound ? "too few entries" : "too many entries",
                                      value: "\(count) \(noun)", expected: "\(allowed.lowerBound)–\(allowed.upperBound) \(noun)"))
    }

    private static func readLocation(_ o: JSONObjectReader) -> SiteLocation? {
        let latitude = o.double("latitude", required: true, in: latitudeRange)
        let longitude = o.double("longitude", required: true, in: longitudeRange)
        var zone = o.string("timeZone", required: true, maxLength: 64)
        if let z = zone, !isTimeZoneName(z) {
            o.collector.add(path: o.path + ".timeZone", line: o.member("timeZone")?.line, problem: "not a time zone name",
                            value: .string(z), expected: timeZoneRule)
            zone = nil
        }
        o.finish()
        guard let latitude, let longitude, let zone else { return nil }
        return SiteLocation(latitude: latitude, longitude: longitude, timeZone: zone)
    }

    /// Whether `name` has the shape of a zone name; whether the zone is installed is checked when
    /// the agent loads it (Platform.ZoneInfoFiles).
    public static func isTimeZoneName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), !name.hasPrefix("/"), !name.hasSuffix("/") else { return false }
        let allowed = name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: "/")
        }
        return allowed && !name.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty || $0 == "." || $0 == ".." }
    }

    // MARK: - Alarm rules

    private static func readAlarmRule(_ o: JSONObjectReader, meters: MonitoringMeters, seen: inout [String: String]) -> AlarmRule? {
        let before = o.collector.issues.count
        let id = identifier(o, "id", required: true)
        if let id {
            if let first = seen[id] {
                o.collector.add(path: o.path + ".id", line: o.member("id")?.line, problem: "duplicate alarm rule id", value: .string(id),
                                expected: "an id not used by another rule (\(first) has it)")
            } else {
                seen[id] = o.path
            }
        }
        let scope = readScope(o, meters: meters)
        let severity = o.string("severity", allowed: severityNames).flatMap { name in
            severityNames.firstIndex(of: name).flatMap { GatewayEvent.Severity(rawValue: UInt8($0)) }
        } ?? .warning
        let minimum = o.int("minimumDurationSeconds", in: minimumDurationRange) ?? 0
        let kind = o.string("kind", required: true, allowed: alarmKinds)
        let scoped = scope.map { meters.profiles(of: $0) } ?? []
        var condition: AlarmCondition?
        switch kind {
        case "threshold": condition = readThreshold(o, profiles: scoped, meters: meters)
        case "mains-absence": condition = readMainsAbsence(o, profiles: scoped, meters: meters)
        case "flag":
            if let name = o.string("flag", required: true, maxLength: 32) {
                if meters.checkFlag(name, profiles: scoped, at: o.path + ".flag", line: o.member("flag")?.line, collector: o.collector) {
                    condition = .flag(name: name)
                }
            }
        case "communication-lost": condition = .communicationLost
        case "zero-consumption":
            let quantity = readQuantity(o, profiles: scoped, meters: meters, counterOnly: true)
            let days = o.int("days", required: true, in: zeroConsumptionDaysRange)
            let tolerance = o.double("tolerance", in: 0...1_000_000) ?? 0
            if let quantity, let days { condition = .zeroConsumption(quantity: quantity, days: days, tolerance: tolerance) }
        case "spike":
            let quantity = readQuantity(o, profiles: scoped, meters: meters, counterOnly: false)
            let factor = o.double("factor", required: true, in: spikeFactorRange)
            let days = o.int("days", in: spikeDaysRange) ?? 7
            let samples = o.int("minimumSamples", in: 1...spikeDaysRange.upperBound) ?? (days + 1) / 2
            let floor = o.double("minimumValue", in: 0...1_000_000_000) ?? 0
            if samples > days {
                o.collector.add(path: o.path + ".minimumSamples", line: o.member("minimumSamples")?.line,
                                problem: "more samples than days", value: o.member("minimumSamples")?.value,
                                expected: "at most \"days\" (\(days))")
            }
            if let quantity, let factor, samples <= days {
                condition = .spike(quantity: quantity, factor: factor, days: days, minimumSamples: samples, minimumValue: floor)
            }
        default: break
        }
        o.finish()
        guard o.collector.issues.count == before, let id, let scope, let condition else { return nil }
        return AlarmRule(id: id, scope: scope, severity: severity, condition: condition, minimumDurationSeconds: minimum)
    }

    /// `meters` (configured meter ids) or `profiles` (installed profile ids), exactly one.
    private static func readScope(_ o: JSONObjectReader, meters: MonitoringMeters) -> AlarmScope? {
        let hasMeters = o.has("meters"), hasProfiles = o.has("profiles")
        guard hasMeters != hasProfiles else {
            o.collector.add(path: o.path, line: o.line, problem: "needs exactly one of \"meters\" and \"profiles\"",
                            expected: "\"meters\": [meter ids] or \"profiles\": [profile ids]")
            _ = o.member("meters")
            _ = o.member("profiles")
            return nil
        }
        let key = hasMeters ? "meters" : "profiles"
        guard let items = o.array(key) else { return nil }
        var names: [String] = []
        var ok = !items.isEmpty
        if items.isEmpty { o.collector.add(path: o.path + "." + key, line: o.member(key)?.line, problem: "must not be empty") }
        for item in items {
            guard let name = item.value.stringValue else {
                o.collector.add(path: item.path, line: item.line, problem: "wrong type", value: item.value, expected: "a string")
                ok = false
                continue
            }
            if hasMeters, !meters.knownIDs.contains(name) {
                o.collector.add(path: item.path, line: item.line, problem: "unknown meter", value: item.value,
                                expected: "a configured meter id: " + list(meters.knownIDs, none: "(no meters configured)"))
                ok = false
            } else if !hasMeters, meters.context.profiles[name] == nil {
                o.collector.add(path: item.path, line: item.line, problem: "unknown profile", value: item.value,
                                expected: "one of the installed profiles: " + list(meters.context.knownProfileIDs, none: "(none installed)"))
                ok = false
            } else if names.contains(name) {
                o.collector.add(path: item.path, line: item.line, problem: "listed twice", value: item.value)
                ok = false
            }
            names.append(name)
        }
        guard ok else { return nil }
        return hasMeters ? .meters(names.map { MeterID($0) }) : .profiles(names)
    }

    private static func readThreshold(_ o: JSONObjectReader, profiles: [String], meters: MonitoringMeters) -> AlarmCondition? {
        let quantity = readQuantity(o, profiles: profiles, meters: meters, counterOnly: false)
        let above = o.double("above"), below = o.double("below")
        let hysteresis = o.double("hysteresis", in: 0...1_000_000_000) ?? 0
        guard (above == nil) != (below == nil) else {
            if !(o.has("above") && above == nil) && !(o.has("below") && below == nil) {
                o.collector.add(path: o.path, line: o.line, problem: "needs exactly one of \"above\" and \"below\"",
                                expected: "\"above\": limit or \"below\": limit, in the quantity's unit")
            }
            return nil
        }
        guard let quantity else { return nil }
        return above.map { .threshold(quantity: quantity, direction: .above, limit: $0, hysteresis: hysteresis) }
            ?? .threshold(quantity: quantity, direction: .below, limit: below!, hysteresis: hysteresis)
    }

    private static func readMainsAbsence(_ o: JSONObjectReader, profiles: [String], meters: MonitoringMeters) -> AlarmCondition? {
        let limit = o.double("voltageBelow", required: true, in: 0...500)
        let hysteresis = o.double("hysteresis", in: 0...500) ?? 0
        var phases: [QuantityID] = []
        var ok = true
        if let items = o.array("phases") {
            for item in items {
                guard let name = item.value.stringValue, phaseVoltages.contains(QuantityID(name)) else {
                    o.collector.add(path: item.path, line: item.line, problem: "not a phase voltage", value: item.value,
                                    expected: phaseVoltages.map(\.rawValue).joined(separator: ", "))
                    ok = false
                    continue
                }
                phases.append(QuantityID(name))
            }
            if items.isEmpty {
                o.collector.add(path: o.path + ".phases", line: o.member("phases")?.line, problem: "must not be empty")
                ok = false
            }
        } else {
            phases = phaseVoltages
        }
        let flag = o.string("powerFailFlag", maxLength: 32)
        if let flag, !meters.checkFlag(flag, profiles: profiles, at: o.path + ".powerFailFlag", line: o.member("powerFailFlag")?.line,
                                       collector: o.collector) {
            ok = false
        }
        guard ok, let limit else { return nil }
        return .mainsAbsence(phases: phases, voltageBelow: limit, hysteresis: hysteresis, powerFailFlag: flag)
    }

    /// A catalog quantity read by at least one scoped profile (and a counter when `counterOnly`).
    private static func readQuantity(_ o: JSONObjectReader, profiles: [String], meters: MonitoringMeters, counterOnly: Bool) -> QuantityID? {
        guard let name = o.string("quantity", required: true, maxLength: 64) else { return nil }
        let line = o.member("quantity")?.line
        guard let definition = QuantityCatalog.definition(of: QuantityID(name)) else {
            o.collector.add(path: o.path + ".quantity", line: line, problem: "unknown quantity", value: .string(name),
                            expected: "a quantity of the catalog (the \"quantity\" enum in config.schema.json)")
            return nil
        }
        if counterOnly, definition.kind != .counter {
            o.collector.add(path: o.path + ".quantity", line: line, problem: "not a counter", value: .string(name),
                            expected: "a counter quantity, e.g. active_energy_import, water_volume, heat_energy")
            return nil
        }
        let readers = profiles.filter { meters.context.profiles[$0]?.quantities.contains(definition.id) == true }
        if !profiles.isEmpty, readers.isEmpty {
            o.collector.add(path: o.path + ".quantity", line: line, problem: "no meter of the rule reads this quantity",
                            value: .string(name), expected: "a quantity the profiles \(profiles.joined(separator: ", ")) read")
            return nil
        }
        return definition.id
    }
}

/// The meters and profiles the monitoring section refers to.
struct MonitoringMeters {
    let knownIDs: [String]
    let profileByMeter: [String: String]
    let context: ConfigurationContext

    init(draft: ConfigurationDraft, context: ConfigurationContext) {
        knownIDs = draft.meterIDs.map(\.id)
        var map: [String: String] = [:]
        for m in draft.meterIDs { if let p = m.profile { map[m.id] = p } }
        profileByMeter = map
        self.context = context
    }

    /// The installed profiles of the meters in `scope`, without repeats.
    func profiles(of scope: AlarmScope) -> [String] {
        var out: [String] = []
        let names: [String]
        switch scope {
        case .meters(let ids): names = ids.compactMap { profileByMeter[$0.rawValue] }
        case .profiles(let profiles): names = profiles
        }
        for n in names where !out.contains(n) { out.append(n) }
        return out
    }

    /// Whether some profile in `profiles` declares the flag; records an issue otherwise.
    func checkFlag(_ name: String, profiles: [String], at path: String, line: Int?, collector: IssueCollector) -> Bool {
        let declared = profiles.flatMap { context.profiles[$0]?.statusFlags ?? [] }
        guard profiles.isEmpty || declared.contains(name) else {
            collector.add(path: path, line: line, problem: "no meter of the rule has this status flag", value: .string(name),
                          expected: declared.isEmpty ? "a profile with a \"status\" register (Docs/profiles.md)"
                              : "one of " + declared.joined(separator: ", "))
            return false
        }
        return true
    }
}
