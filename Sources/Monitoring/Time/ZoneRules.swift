import ConcentratorCore

/// Why zone rules could not be read: a TZif file that breaks RFC 8536, or a bad POSIX TZ string.
public struct TimeZoneRulesError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// One kind of local time in a zone: its offset from UTC, whether it is daylight saving time, its abbreviation.
public struct ZoneLocalTimeType: Hashable, Sendable {
    /// Seconds east of UTC (Rome in winter: +3600).
    public let utcOffsetSeconds: Int
    public let isDaylightSaving: Bool
    public let abbreviation: String

    public init(utcOffsetSeconds: Int, isDaylightSaving: Bool, abbreviation: String) {
        self.utcOffsetSeconds = utcOffsetSeconds
        self.isDaylightSaving = isDaylightSaving
        self.abbreviation = abbreviation
    }
}

/// What to do with a wall-clock time that a DST change skips or repeats.
public enum LocalTimeResolution: Hashable, Sendable {
    /// Skipped (spring gap): move forward by the length of the gap (02:30 on the Rome spring day is
    /// 03:30 CEST). Repeated (autumn overlap): the first occurrence (still daylight time).
    case forwardOrEarlier
}

/// The rules of one time zone: its UTC offset at every instant, read from a TZif file (RFC 8536)
/// such as /usr/share/zoneinfo/Europe/Rome. Instants beyond the file's table follow its footer
/// POSIX TZ rule. Pure: bytes in, rules out (`Platform.ZoneInfoFiles` reads the file).
///
/// FoundationEssentials on Linux has no zone database (`TimeZone(identifier: "Europe/Rome")` is nil
/// without ICU), hence this reader; see Docs/edge-monitoring.md, "Time zones".
public struct ZoneRules: Hashable, Sendable {
    /// The zone's name, e.g. `Europe/Rome` (for messages; not used in calculations).
    public let name: String
    /// Transition instants (UTC seconds), ascending.
    let transitions: [Int64]
    /// The local time type index after each transition.
    let transitionTypes: [Int]
    let types: [ZoneLocalTimeType]
    /// The rule for instants after the last transition, from the v2+ footer.
    let footer: POSIXTimeZoneRule?

    /// UTC, with no transitions.
    public static let utc = ZoneRules(name: "UTC", rule: try! POSIXTimeZoneRule("UTC0"))

    /// Rules from a POSIX TZ string alone (no table), e.g. `CET-1CEST,M3.5.0,M10.5.0/3`.
    public init(name: String, rule: POSIXTimeZoneRule) {
        self.name = name
        transitions = []
        transitionTypes = []
        types = [rule.standard]
        footer = rule
    }

    /// Parses a TZif file, version 1, 2, 3 or 4. For v2+ the 64-bit block and the footer are used.
    public init(tzif bytes: [UInt8], name: String) throws(TimeZoneRulesError) {
        self.name = name
        do {
            var r = ByteReader(bytes)
            let first = try Self.header(&r)
            if first.version == 0 {
                let block = try Self.block(&r, first, timeSize: 4)
                transitions = block.transitions
                transitionTypes = block.transitionTypes
                types = block.types
                footer = nil
            } else {
                try r.skip(first.v1BlockLength, "version 1 data block")
                let second = try Self.header(&r)
                let block = try Self.block(&r, second, timeSize: 8)
                guard try r.u8("footer start") == 0x0A else { throw r.error("footer must start with a newline") }
                var text: [UInt8] = []
                while true {
                    let c = try r.u8("footer TZ string")
                    if c == 0x0A { break }
                    text.append(c)
                    guard text.count <= 255 else { throw r.error("footer TZ string longer than 255 bytes") }
                }
                transitions = block.transitions
                transitionTypes = block.transitionTypes
                types = block.types
                footer = text.isEmpty ? nil : try POSIXTimeZoneRule(String(decoding: text, as: UTF8.self))
            }
        } catch let error as ByteFormatError {
            throw TimeZoneRulesError("zone \(name): not a valid TZif file: \(error)")
        } catch let error as TimeZoneRulesError {
            throw TimeZoneRulesError("zone \(name): \(error.reason)")
        } catch {
            throw TimeZoneRulesError("zone \(name): \(error)")
        }
    }

    // MARK: - Queries

    /// The local time type in effect at `time`.
    public func localTimeType(at time: Timestamp) -> ZoneLocalTimeType {
        let s = time.seconds
        guard let last = transitions.last else { return footer.map { $0.type(atSeconds: s) } ?? types[0] }
        if s < transitions[0] { return types[0] }
        if s >= last, let footer { return footer.type(atSeconds: s) }
        // Binary search: the last transition at or before s.
        var low = 0, high = transitions.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if transitions[mid] <= s { low = mid } else { high = mid - 1 }
        }
        return types[transitionTypes[low]]
    }

    /// Seconds east of UTC at `time`.
    public func utcOffsetSeconds(at time: Timestamp) -> Int { localTimeType(at: time).utcOffsetSeconds }

    /// The first instant strictly after `time` at which the offset or DST flag changes, if any.
    public func nextTransition(after time: Timestamp) -> Timestamp? {
        var s = time.seconds
        var current = localTimeType(at: time)
        for _ in 0..<8 { // a table entry may not change anything visible; skip a few such
            // A transition past what a Timestamp holds (milliseconds in an Int64) is no transition.
            guard let next = rawNextTransition(afterSeconds: s), next.magnitude <= UInt64(Int64.max / 1000) else {
                return nil
            }
            let type = localTimeType(at: Timestamp(seconds: next))
            if type.utcOffsetSeconds != current.utcOffsetSeconds || type.isDaylightSaving != current.isDaylightSaving {
                return Timestamp(seconds: next)
            }
            current = type
            s = next
        }
        return nil
    }

    private func rawNextTransition(afterSeconds s: Int64) -> Int64? {
        if let i = transitions.firstIndex(where: { $0 > s }) { return transitions[i] }
        return footer?.nextTransition(afterSeconds: max(s, transitions.last ?? s))
    }

    /// The wall-clock date and time at `time`.
    public func localDateTime(at time: Timestamp) -> LocalDateTime {
        LocalDateTime(localEpochSeconds: time.seconds + Int64(utcOffsetSeconds(at: time)))
    }

    /// The instant a wall clock in this zone shows `local`. Skipped times move forward by the gap;
    /// repeated times give the first occurrence.
    public func instant(for local: LocalDateTime, resolution: LocalTimeResolution = .forwardOrEarlier) -> Timestamp {
        let l = local.localEpochSeconds
        // Offsets in effect within ±26 hours of the wall-clock reading cover every candidate.
        var offsets: [Int] = [utcOffsetSeconds(at: Timestamp(seconds: l - 93_600))]
        var changes: [Int64] = []
        var cursor = Timestamp(seconds: l - 93_600)
        while let next = nextTransition(after: cursor), next.seconds <= l + 93_600 {
            offsets.append(utcOffsetSeconds(at: next))
            changes.append(next.seconds)
            cursor = next
        }
        let valid = offsets.map { l - Int64($0) }.filter { localDateTime(at: Timestamp(seconds: $0)).localEpochSeconds == l }
        if let earliest = valid.min() { return Timestamp(seconds: earliest) }
        // In a gap: read the wall clock with the offset from before the gap, which lands after it.
        for (i, change) in changes.enumerated() {
            let before = Int64(offsets[i]), after = Int64(offsets[i + 1])
            if after > before, change + before <= l, l < change + after { return Timestamp(seconds: l - before) }
        }
        return Timestamp(seconds: l - Int64(offsets[0]))
    }

    /// The instant local midnight starts `date` (or the first instant of the day when midnight is skipped).
    public func startOfDay(_ date: LocalDate) -> Timestamp { instant(for: LocalDateTime(date: date, secondsOfDay: 0)) }

    // MARK: - TZif layout (RFC 8536 §3)

    private struct Header {
        let version: UInt8
        let isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt: Int

        var v1BlockLength: Int { timecnt * 5 + typecnt * 6 + charcnt + leapcnt * 8 + isstdcnt + isutcnt }
    }

    private static func header(_ r: inout ByteReader) throws(ByteFormatError) -> Header {
        guard try r.raw(4, "magic") == Array("TZif".utf8) else { throw r.error("magic is not \"TZif\"") }
        let v = try r.u8("version")
        guard v == 0 || (0x32...0x34).contains(v) else { throw r.error("unknown TZif version \(v)") }
        try r.skip(15, "reserved")
        func count(_ what: String) throws(ByteFormatError) -> Int {
            let c = try r.bigEndian(UInt32.self, what)
            guard c <= 1_000_000 else { throw r.error("\(what) \(c) is implausibly large") }
            return Int(c)
        }
        let h = Header(version: v == 0 ? 0 : v - 0x30, isutcnt: try count("isutcnt"), isstdcnt: try count("isstdcnt"),
                       leapcnt: try count("leapcnt"), timecnt: try count("timecnt"), typecnt: try count("typecnt"),
                       charcnt: try count("charcnt"))
        guard h.typecnt >= 1 else { throw r.error("typecnt must be at least 1") }
        guard h.charcnt >= 1 else { throw r.error("charcnt must be at least 1") }
        guard h.isutcnt == 0 || h.isutcnt == h.typecnt else { throw r.error("isutcnt must be 0 or typecnt") }
        guard h.isstdcnt == 0 || h.isstdcnt == h.typecnt else { throw r.error("isstdcnt must be 0 or typecnt") }
        return h
    }

    private static func block(_ r: inout ByteReader, _ h: Header, timeSize: Int) throws(ByteFormatError)
        -> (transitions: [Int64], transitionTypes: [Int], types: [ZoneLocalTimeType]) {
        var transitions: [Int64] = []
        transitions.reserveCapacity(h.timecnt)
        for _ in 0..<h.timecnt {
            let t = timeSize == 4 ? Int64(try r.bigEndian(Int32.self, "transition time"))
                : try r.bigEndian(Int64.self, "transition time")
            if let previous = transitions.last, t <= previous { throw r.error("transition times are not ascending") }
            transitions.append(t)
        }
        var indices: [Int] = []
        for _ in 0..<h.timecnt {
            let i = Int(try r.u8("transition type"))
            guard i < h.typecnt else { throw r.error("transition type \(i) beyond typecnt \(h.typecnt)") }
            indices.append(i)
        }
        var raw: [(offset: Int32, dst: Bool, index: Int)] = []
        for _ in 0..<h.typecnt {
            let offset = try r.bigEndian(Int32.self, "utoff")
            guard offset != Int32.min, abs(Int(offset)) <= 25 * 3600 else { throw r.error("utoff \(offset) out of range") }
            let dst = try r.u8("isdst")
            guard dst <= 1 else { throw r.error("isdst must be 0 or 1") }
            raw.append((offset, dst == 1, Int(try r.u8("desigidx"))))
        }
        let chars = try r.raw(h.charcnt, "time zone designations")
        try r.skip(h.leapcnt * (timeSize + 4) + h.isstdcnt + h.isutcnt, "leap seconds and indicators")
        var types: [ZoneLocalTimeType] = []
        for t in raw {
            guard t.index < chars.count else { throw r.error("designation index \(t.index) beyond charcnt") }
            let end = chars[t.index...].firstIndex(of: 0) ?? chars.count
            types.append(ZoneLocalTimeType(utcOffsetSeconds: Int(t.offset), isDaylightSaving: t.dst,
                                           abbreviation: String(decoding: chars[t.index..<end], as: UTF8.self)))
        }
        return (transitions, indices, types)
    }
}
