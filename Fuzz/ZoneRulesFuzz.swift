// libFuzzer entry for the zone-rule decoders of Sources/Monitoring/Time: TZif files (RFC 8536) and
// POSIX TZ strings, which come from the file system (/usr/share/zoneinfo) and must never crash the
// agent however damaged. Built and run by scripts/fuzz.sh zone; compiled together with the
// Monitoring time sources against the ConcentratorCore module. Besides "never crash", every accepted
// zone must answer queries: an offset within ±25 h, a next transition after the instant asked, and
// a local time that reads back to an instant.
import ConcentratorCore
@testable import Monitoring

@_cdecl("LLVMFuzzerTestOneInput")
public func zoneRulesFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    let zone: ZoneRules?
    if selector & 1 == 0 {
        zone = try? ZoneRules(tzif: input, name: "fuzz")
    } else {
        zone = (try? POSIXTimeZoneRule(String(decoding: input, as: UTF8.self))).map { ZoneRules(name: "fuzz", rule: $0) }
    }
    guard let zone else { return 0 }
    for seconds in [Int64(-2_000_000_000), 0, 1_774_746_000, 4_102_444_800] {
        let t = Timestamp(seconds: seconds)
        precondition(abs(zone.utcOffsetSeconds(at: t)) <= 25 * 3600 + 3600, "offset out of range")
        if let next = zone.nextTransition(after: t) { precondition(next > t, "next transition not after the instant") }
        _ = zone.instant(for: zone.localDateTime(at: t))
    }
    return 0
}
