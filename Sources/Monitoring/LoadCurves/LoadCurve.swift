import ConcentratorCore

/// One read of an energy counter (kWh) at the time the gateway read it.
public struct CounterRead: Hashable, Sendable {
    public var time: Timestamp
    public var value: Double

    public init(time: Timestamp, value: Double) {
        self.time = time
        self.value = value
    }
}

/// Where a load-curve value comes from.
public enum LoadCurveSource: String, Hashable, Sendable, Codable {
    /// The meter's own load profile (DLMS, IEC), read as it is.
    case meter
    /// Derived on the gateway from counter reads at the interval boundaries.
    case derived
}

/// What is special about a load-curve value. Empty: two exact boundary reads.
public struct LoadCurveFlags: OptionSet, Hashable, Sendable, Codable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A boundary value was interpolated between reads before and after it (late or early reads).
    public static let interpolated = LoadCurveFlags(rawValue: 1)
    /// No value: a boundary had no read close enough on both sides (meter silent, agent down).
    public static let gap = LoadCurveFlags(rawValue: 2)
    /// No value: the counter went down inside the interval (meter replaced or reset).
    public static let counterReset = LoadCurveFlags(rawValue: 4)
    /// The counter wrapped past its modulus inside the interval; the value accounts for it.
    public static let rollover = LoadCurveFlags(rawValue: 8)

    /// Names for exports, in a fixed order; "ok" for none.
    public var names: [String] {
        var out: [String] = []
        if contains(.interpolated) { out.append("interpolated") }
        if contains(.gap) { out.append("gap") }
        if contains(.counterReset) { out.append("counter-reset") }
        if contains(.rollover) { out.append("rollover") }
        return out.isEmpty ? ["ok"] : out
    }
}

/// Energy withdrawn and injected in one interval. Values are nil when they could not be determined
/// (the flags say why); a value of 0 is a measured zero.
public struct LoadCurvePoint: Hashable, Sendable {
    public var start: Timestamp
    public var minutes: Int
    /// Energy taken from the grid (active import, +A), kWh.
    public var withdrawalKWh: Double?
    /// Energy fed into the grid (active export, −A), kWh.
    public var injectionKWh: Double?
    public var source: LoadCurveSource
    public var flags: LoadCurveFlags

    public init(start: Timestamp, minutes: Int, withdrawalKWh: Double?, injectionKWh: Double?, source: LoadCurveSource,
                flags: LoadCurveFlags = []) {
        self.start = start
        self.minutes = minutes
        self.withdrawalKWh = withdrawalKWh
        self.injectionKWh = injectionKWh
        self.source = source
        self.flags = flags
    }

    public var end: Timestamp { start.adding(seconds: Int64(minutes) * 60) }
}

/// Derives 15-minute withdrawal and injection curves from counter reads, for meters without a load
/// profile of their own, and aggregates quarter-hours into hours. Pure; idempotent over the set of
/// reads, so a late read (one that arrives after its interval was derived) is handled by deriving
/// the affected intervals again from all reads. Docs/edge-monitoring.md, "Load curves".
public enum LoadCurveDeriver {
    /// How boundary values are found.
    public struct Options: Hashable, Sendable {
        public var intervalMinutes: Int
        /// A read this close to a boundary counts as read at the boundary.
        public var exactToleranceSeconds: Int
        /// The longest span between the reads around a boundary that may be interpolated.
        public var maxInterpolationSpanSeconds: Int
        /// The counter's modulus (a 6-digit kWh register wraps at 1 000 000), or nil: every decrease is a reset.
        public var rolloverModulus: Double?

        public init(intervalMinutes: Int = 15, exactToleranceSeconds: Int = 1, maxInterpolationSpanSeconds: Int = 1800,
                    rolloverModulus: Double? = nil) {
            self.intervalMinutes = intervalMinutes
            self.exactToleranceSeconds = exactToleranceSeconds
            self.maxInterpolationSpanSeconds = maxInterpolationSpanSeconds
            self.rolloverModulus = rolloverModulus
        }
    }

    /// The energy of each interval in [from, to) from one counter's reads: (start, kWh or nil, flags).
    public static func deltas(reads: [CounterRead], from: Timestamp, to: Timestamp, options: Options = Options())
        -> [(start: Timestamp, value: Double?, flags: LoadCurveFlags)] {
        let schedule = IntervalSchedule(minutes: options.intervalMinutes)
        let sorted = normalized(reads)
        var out: [(Timestamp, Double?, LoadCurveFlags)] = []
        var start = schedule.isBoundary(from) ? from : schedule.nextBoundary(after: from)
        var startValue = boundaryValue(at: start, reads: sorted, options: options)
        while start < to {
            let end = start.adding(seconds: schedule.lengthSeconds)
            let endValue = boundaryValue(at: end, reads: sorted, options: options)
            var flags = startValue.flags.union(endValue.flags)
            var value: Double?
            if let v0 = startValue.value, let v1 = endValue.value {
                let inside = sorted.filter { $0.time > start && $0.time < end }.map(\.value)
                let path = [v0] + inside + [v1]
                let drops = zip(path, path.dropFirst()).filter { $1 < $0 }.count
                if drops == 0 {
                    value = v1 - v0
                } else if drops == 1, let modulus = options.rolloverModulus, let wrapped = Self.wrapped(path, modulus: modulus) {
                    value = wrapped
                    flags.insert(.rollover)
                } else {
                    flags.insert(.counterReset)
                }
            } else if !flags.contains(.counterReset) {
                flags.insert(.gap)
            }
            if value == nil { flags.remove(.interpolated) }
            out.append((start, value, flags))
            start = end
            startValue = endValue
        }
        return out
    }

    /// Withdrawal and injection curves for one meter from its import and export counter reads.
    /// A meter without an export counter gets injection nil everywhere (pass `exportReads: nil`).
    public static func derive(importReads: [CounterRead], exportReads: [CounterRead]?, from: Timestamp, to: Timestamp,
                              options: Options = Options()) -> [LoadCurvePoint] {
        let withdrawal = deltas(reads: importReads, from: from, to: to, options: options)
        let injection = exportReads.map { deltas(reads: $0, from: from, to: to, options: options) }
        return withdrawal.enumerated().map { i, w in
            let inj = injection?[i]
            let flags = w.flags.union(inj?.flags ?? [])
            return LoadCurvePoint(start: w.start, minutes: options.intervalMinutes, withdrawalKWh: w.value, injectionKWh: inj?.value,
                                  source: .derived, flags: flags)
        }
    }

    /// Hours from quarter-hours (or any intervals dividing the hour): an hour's value is the sum of its
    /// parts when every part is there; otherwise nil with the `gap` flag. Hours are UTC-aligned (all
    /// zones in use have whole- or half-hour offsets; for those with half-hour offsets, local hours
    /// still sum four UTC quarter-hours).
    public static func hourly(_ points: [LoadCurvePoint]) -> [LoadCurvePoint] {
        let hour = IntervalSchedule(minutes: 60)
        var groups: [Timestamp: [LoadCurvePoint]] = [:]
        var order: [Timestamp] = []
        for p in points {
            let h = hour.start(containing: p.start)
            if groups[h] == nil { order.append(h) }
            groups[h, default: []].append(p)
        }
        return order.sorted().map { h in
            let parts = groups[h]!
            let minutes = parts.map(\.minutes).reduce(0, +)
            let complete = minutes == 60 && Set(parts.map(\.start)).count == parts.count
            func sum(_ values: [Double?]) -> Double? {
                guard complete, values.allSatisfy({ $0 != nil }) else { return nil }
                return values.compactMap { $0 }.reduce(0, +)
            }
            let withdrawal = sum(parts.map(\.withdrawalKWh))
            let injection = parts.allSatisfy({ $0.injectionKWh == nil }) && complete ? nil : sum(parts.map(\.injectionKWh))
            var flags = parts.reduce(LoadCurveFlags()) { $0.union($1.flags) }
            if withdrawal == nil { flags.insert(.gap) }
            let source: LoadCurveSource = parts.contains { $0.source == .derived } ? .derived : .meter
            return LoadCurvePoint(start: h, minutes: 60, withdrawalKWh: withdrawal, injectionKWh: injection, source: source, flags: flags)
        }
    }

    /// The meter's own profile where it has a value, derived points elsewhere.
    public static func merge(own: [LoadCurvePoint], derived: [LoadCurvePoint]) -> [LoadCurvePoint] {
        var byStart: [Timestamp: LoadCurvePoint] = [:]
        for p in derived { byStart[p.start] = p }
        for p in own where p.withdrawalKWh != nil || p.injectionKWh != nil { byStart[p.start] = p }
        return byStart.values.sorted { $0.start < $1.start }
    }

    // MARK: - Boundary values

    /// Reads in time order, one per instant (the last one given wins: a corrected re-read).
    static func normalized(_ reads: [CounterRead]) -> [CounterRead] {
        var byTime: [Timestamp: Double] = [:]
        for r in reads where r.value.isFinite { byTime[r.time] = r.value }
        return byTime.map { CounterRead(time: $0.key, value: $0.value) }.sorted { $0.time < $1.time }
    }

    /// The counter's value at `boundary`: an exact read, an interpolation, or nil (with why).
    static func boundaryValue(at boundary: Timestamp, reads: [CounterRead], options: Options) -> (value: Double?, flags: LoadCurveFlags) {
        let tolerance = Int64(options.exactToleranceSeconds) * 1000
        if let exact = reads.first(where: { abs($0.time.milliseconds - boundary.milliseconds) <= tolerance }) {
            return (exact.value, [])
        }
        guard let before = reads.last(where: { $0.time < boundary }), let after = reads.first(where: { $0.time > boundary }),
              after.time.milliseconds - before.time.milliseconds <= Int64(options.maxInterpolationSpanSeconds) * 1000 else {
            return (nil, [])
        }
        var v1 = after.value
        var flags: LoadCurveFlags = [.interpolated]
        if v1 < before.value {
            guard let modulus = options.rolloverModulus, before.value > modulus * 0.9, v1 < modulus * 0.1 else { return (nil, [.counterReset]) }
            v1 += modulus
            flags.insert(.rollover)
        }
        let fraction = Double(boundary.milliseconds - before.time.milliseconds) / Double(after.time.milliseconds - before.time.milliseconds)
        var value = before.value + (v1 - before.value) * fraction
        if let modulus = options.rolloverModulus, value >= modulus { value -= modulus }
        return (value, flags)
    }

    /// The increase along `path` when its one drop is a wrap past `modulus` (from the top tenth of the
    /// range to the bottom tenth); nil when the drop looks like a reset.
    static func wrapped(_ path: [Double], modulus: Double) -> Double? {
        var total = 0.0
        for (a, b) in zip(path, path.dropFirst()) {
            if b >= a { total += b - a; continue }
            guard a > modulus * 0.9, b < modulus * 0.1 else { return nil }
            total += modulus - a + b
        }
        return total
    }
}
