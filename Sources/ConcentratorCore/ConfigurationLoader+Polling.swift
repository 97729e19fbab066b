/// The `polling` section: an optional fast "live" cadence for a few quantities.
extension ConfigurationLoader {
    static let livePeriodRange = 1...3600
    static let defaultLivePeriodSeconds = 10
    static let liveQuantityCountRange = 1...16

    static func readPolling(_ input: ConfigurationSectionInput, into draft: inout ConfigurationDraft) {
        guard let r = input.object() else { return }
        let live = r.object("live").map { readLive($0, draft: draft, context: input.context) }
        let meterClock = r.object("meterClock").map(readMeterClock)
        r.finish()
        draft.polling = PollingSettings(live: live, meterClock: meterClock)
    }

    private static func readLive(_ r: JSONObjectReader, draft: ConfigurationDraft, context: ConfigurationContext) -> LiveCadence {
        let period = r.int("periodSeconds", in: livePeriodRange) ?? defaultLivePeriodSeconds
        var quantities: [QuantityID] = []
        if let items = r.array("quantities", required: true) {
            if !liveQuantityCountRange.contains(items.count) {
                r.collector.add(ValidationIssue(
                    path: r.path + ".quantities", line: r.member("quantities")?.line,
                    problem: items.isEmpty ? "too few entries" : "too many entries", value: "\(items.count) quantities",
                    expected: "\(liveQuantityCountRange.lowerBound)–\(liveQuantityCountRange.upperBound) quantities"))
            }
            let provided = providedQuantities(draft: draft, context: context)
            let rule = "a quantity read by a configured meter's profile: "
                + list(provided.map(\.rawValue), none: "(no configured meter names an installed profile)")
            var seen: Set<QuantityID> = []
            for item in items {
                guard let name = item.value.stringValue else {
                    r.collector.add(path: item.path, line: item.line, problem: "wrong type", value: item.value, expected: rule)
                    continue
                }
                let quantity = QuantityID(name)
                if QuantityCatalog.definition(of: quantity) == nil {
                    r.collector.add(path: item.path, line: item.line, problem: "unknown quantity", value: item.value,
                                    expected: rule)
                } else if !seen.insert(quantity).inserted {
                    r.collector.add(path: item.path, line: item.line, problem: "duplicate quantity", value: item.value,
                                    expected: "each quantity once")
                } else if !provided.contains(quantity) {
                    r.collector.add(path: item.path, line: item.line, problem: "not read by any configured meter",
                                    value: item.value, expected: rule)
                } else {
                    quantities.append(quantity)
                }
            }
        }
        r.finish()
        return LiveCadence(periodSeconds: period, quantities: quantities)
    }

    /// The quantities the configured meters' profiles read, in catalog order.
    private static func providedQuantities(draft: ConfigurationDraft, context: ConfigurationContext) -> [QuantityID] {
        var provided: Set<QuantityID> = []
        for profile in Set(draft.meterProfiles) {
            provided.formUnion(context.profiles[profile]?.quantities ?? [])
        }
        return QuantityCatalog.all.map(\.id).filter(provided.contains)
    }
}
