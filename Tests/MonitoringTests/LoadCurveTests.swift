import ConcentratorCore
import Testing
@testable import Monitoring

/// 15-minute curves derived from counter reads: exact, late, missing, reset, wrapped, out of order.
@Suite struct LoadCurveTests {
    static let h0 = ISO8601.parse("2026-05-04T10:00:00Z")!

    static func read(_ seconds: Int64, _ value: Double) -> CounterRead { CounterRead(time: h0.adding(seconds: seconds), value: value) }
    static func values(_ d: [(start: Timestamp, value: Double?, flags: LoadCurveFlags)]) -> [Double?] {
        d.map { $0.value.map { ($0 * 1000).rounded() / 1000 } }
    }

    @Test func exactReadsAtTheBoundaries() {
        let reads = [Self.read(0, 100), Self.read(900, 100.25), Self.read(1800, 100.75), Self.read(2700, 100.75), Self.read(3600, 101)]
        let d = LoadCurveDeriver.deltas(reads: reads, from: Self.h0, to: Self.h0.adding(seconds: 3600))
        #expect(d.map(\.start) == [0, 900, 1800, 2700].map { Self.h0.adding(seconds: $0) })
        #expect(Self.values(d) == [0.25, 0.5, 0, 0.25])
        #expect(d.allSatisfy { $0.flags.isEmpty })
    }

    /// Reads a little after each boundary (the bus cycle takes a while): boundary values are
    /// interpolated between the reads on either side, and the quarter-hours still add up.
    @Test func lateReadsAreInterpolated() {
        // 1.2 kWh/h steady: 0.3 per quarter-hour; reads 20 s late.
        let reads = (0...5).map { Self.read(Int64($0) * 900 + 20 - 900, 100 + 0.3 * (Double($0) - 1) + 0.3 * 20 / 900) }
        let d = LoadCurveDeriver.deltas(reads: reads, from: Self.h0, to: Self.h0.adding(seconds: 3600))
        #expect(Self.values(d) == [0.3, 0.3, 0.3, 0.3])
        #expect(d.allSatisfy { $0.flags == [.interpolated] })
        // A boundary with reads too far apart on both sides is a gap.
        let sparse = [Self.read(-600, 10), Self.read(1300, 11)]
        let g = LoadCurveDeriver.deltas(reads: sparse, from: Self.h0, to: Self.h0.adding(seconds: 900),
                                        options: .init(maxInterpolationSpanSeconds: 1200))
        #expect(g.first?.value == nil && g.first?.flags == [.gap])
    }

    @Test func gapsStayGaps() {
        let reads = [Self.read(0, 50), Self.read(900, 50.5), Self.read(3600, 52)]
        let d = LoadCurveDeriver.deltas(reads: reads, from: Self.h0, to: Self.h0.adding(seconds: 3600),
                                        options: .init(maxInterpolationSpanSeconds: 900))
        #expect(Self.values(d) == [0.5, nil, nil, nil])
        #expect(d.dropFirst().allSatisfy { $0.flags == [.gap] })
        // With interpolation allowed over the whole hole, the hole is spread evenly and marked.
        let spread = LoadCurveDeriver.deltas(reads: reads, from: Self.h0, to: Self.h0.adding(seconds: 3600),
                                             options: .init(maxInterpolationSpanSeconds: 2700))
        #expect(Self.values(spread) == [0.5, 0.5, 0.5, 0.5] && spread[1].flags == [.interpolated])
    }

    @Test func counterResetAndRollover() {
        // Replaced meter: the counter starts again from 2.
        let reset = [Self.read(0, 1000), Self.read(900, 1000.4), Self.read(1800, 2), Self.read(2700, 2.3)]
        let r = LoadCurveDeriver.deltas(reads: reset, from: Self.h0, to: Self.h0.adding(seconds: 2700))
        #expect(Self.values(r) == [0.4, nil, 0.3])
        #expect(r[1].flags == [.counterReset])
        // A 6-digit register wrapping past 999999.
        let wrap = [Self.read(0, 999_999.5), Self.read(450, 999_999.9), Self.read(900, 0.3), Self.read(1800, 0.7)]
        let w = LoadCurveDeriver.deltas(reads: wrap, from: Self.h0, to: Self.h0.adding(seconds: 1800), options: .init(rolloverModulus: 1_000_000))
        #expect(Self.values(w) == [0.8, 0.4])
        #expect(w[0].flags == [.rollover] && w[1].flags.isEmpty)
        // Without a modulus the same drop is a reset.
        let same = LoadCurveDeriver.deltas(reads: wrap, from: Self.h0, to: Self.h0.adding(seconds: 900))
        #expect(same[0].value == nil && same[0].flags == [.counterReset])
        // A drop from the middle of the range is a reset even with a modulus.
        let midDrop = [Self.read(0, 500_000), Self.read(900, 10)]
        #expect(LoadCurveDeriver.deltas(reads: midDrop, from: Self.h0, to: Self.h0.adding(seconds: 900),
                                        options: .init(rolloverModulus: 1_000_000))[0].flags == [.counterReset])
        // Interpolating a boundary across a wrap.
        let across = [Self.read(-100, 999_999.9), Self.read(100, 0.1), Self.read(1000, 1.0)]
        let a = LoadCurveDeriver.deltas(reads: across, from: Self.h0, to: Self.h0.adding(seconds: 900),
                                        options: .init(rolloverModulus: 1_000_000))
        #expect(Self.values(a) == [0.9] && a[0].flags.contains(.interpolated))
    }

    /// Late and repeated reads: the result depends on the set of reads, not the order they came in;
    /// a read given twice for one instant counts once (the later one).
    @Test func lateAndDuplicateReadsGiveTheSameCurve() {
        let inOrder = [Self.read(0, 10), Self.read(900, 10.2), Self.read(1800, 10.5), Self.read(2700, 10.9)]
        let shuffled = [inOrder[2], inOrder[0], Self.read(900, 99), inOrder[3], inOrder[1]]
        let a = LoadCurveDeriver.deltas(reads: inOrder, from: Self.h0, to: Self.h0.adding(seconds: 2700))
        let b = LoadCurveDeriver.deltas(reads: shuffled, from: Self.h0, to: Self.h0.adding(seconds: 2700))
        #expect(Self.values(a) == Self.values(b) && Self.values(a) == [0.2, 0.3, 0.4])
        // Before the late read for 10:30 arrives, the two quarter-hours around it are a gap; after, values.
        let early = LoadCurveDeriver.deltas(reads: [inOrder[0], inOrder[1], inOrder[3]], from: Self.h0, to: Self.h0.adding(seconds: 2700),
                                            options: .init(maxInterpolationSpanSeconds: 900))
        #expect(Self.values(early) == [0.2, nil, nil])
    }

    @Test func withdrawalInjectionAndHours() {
        let imports = (0...8).map { Self.read(Int64($0) * 900, 100 + Double($0) * 0.25) }
        let exports = (0...8).map { Self.read(Int64($0) * 900, 50 + ($0 >= 4 ? Double($0 - 4) * 0.5 : 0)) }
        let points = LoadCurveDeriver.derive(importReads: imports, exportReads: exports, from: Self.h0, to: Self.h0.adding(seconds: 7200))
        #expect(points.count == 8 && points.allSatisfy { $0.source == .derived && $0.minutes == 15 })
        #expect(points.map(\.withdrawalKWh) == Array(repeating: 0.25, count: 8))
        #expect(points.map(\.injectionKWh) == [0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5])
        let hours = LoadCurveDeriver.hourly(points)
        #expect(hours.map(\.start) == [Self.h0, Self.h0.adding(seconds: 3600)])
        #expect(hours.map(\.withdrawalKWh) == [1, 1] && hours.map(\.injectionKWh) == [0, 2])
        // An hour missing a quarter is a gap, not a smaller number.
        let partial = LoadCurveDeriver.hourly(Array(points.dropLast()))
        #expect(partial[1].withdrawalKWh == nil && partial[1].flags.contains(.gap))
        // A meter without an export counter has no injection.
        let importOnly = LoadCurveDeriver.derive(importReads: imports, exportReads: nil, from: Self.h0, to: Self.h0.adding(seconds: 900))
        #expect(importOnly.first?.injectionKWh == nil && importOnly.first?.withdrawalKWh == 0.25)
        // The meter's own profile wins where it has values.
        let own = [LoadCurvePoint(start: Self.h0, minutes: 15, withdrawalKWh: 0.3, injectionKWh: 0, source: .meter)]
        let merged = LoadCurveDeriver.merge(own: own, derived: points)
        #expect(merged.count == 8 && merged[0].source == .meter && merged[0].withdrawalKWh == 0.3 && merged[1].source == .derived)
    }
}
