import ConcentratorCore
@testable import HeadEnd
import HeadEndWeb
import Testing

/// The server-side chart and the metrics without a server: bucketing, coordinates, escaping, and the
/// counters an ingest outcome moves.
@Suite struct DashboardRenderingTests {
    let t0 = Timestamp(seconds: 1_767_225_600)   // 2026-01-01T00:00:00Z

    func quarterHours(_ values: [Double], meter: MeterID = "m1") -> MeterSeries {
        MeterSeries(meter: meter, times: values.indices.map { t0.adding(seconds: Int64($0) * 900) }, values: values)
    }

    @Test func hourlyBucketsAverageTheQuarterHours() {
        let chart = SVGChart(title: "p", from: t0, to: t0.adding(seconds: 7200), resolutionSeconds: 3600)
        let buckets = chart.bucketed(quarterHours([1, 2, 3, 4, 10, 10, 10, 30]))
        #expect(buckets.map(\.start) == [t0.milliseconds, t0.milliseconds + 3_600_000])
        #expect(buckets.map(\.value) == [2.5, 15])
        let quarter = SVGChart(title: "p", from: t0, to: t0.adding(seconds: 7200), resolutionSeconds: 900)
        #expect(quarter.bucketed(quarterHours([1, 2, 3])).map(\.value) == [1, 2, 3])
    }

    @Test func pointsSpanTheViewBoxWithAMargin() throws {
        // Two hourly values at the start and the end of the range: x from 0 to 10000; y inside 0…4000.
        let series = MeterSeries(meter: "m<1>", times: [t0, t0.adding(seconds: 3600)], values: [100, 200])
        let svg = SVGChart(title: "a&b", from: t0, to: t0.adding(seconds: 3600), resolutionSeconds: 3600).render([series])
        #expect(svg.contains("data-points=\"2\"") && svg.contains("data-meter=\"m&lt;1&gt;\"") && svg.contains("<title>a&amp;b</title>"))
        let points = try #require(svg.firstMatch(of: /\spoints="([^"]*)"/)?.1).split(separator: " ").map { $0.split(separator: ",").map { Int($0)! } }
        #expect(points.count == 2 && points[0][0] == 0 && points[1][0] == 10_000, "\(svg)")
        // 5 % margin: 200 is at 1/22 of the height from the top, 100 at 21/22.
        #expect(points[1][1] == Int((4000.0 / 22).rounded()) && points[0][1] == Int((4000.0 * 21 / 22).rounded()), "\(points)")
        // A lone value is drawn as a dot (its point twice) in the middle.
        let lone = SVGChart(title: "x", from: t0, to: t0.adding(seconds: 3600), resolutionSeconds: 3600)
            .render([MeterSeries(meter: "m", times: [t0], values: [5])])
        #expect(lone.contains("points=\"0,2000 0,2000 \""), "\(lone)")
        // No values: an empty frame, no line.
        #expect(!SVGChart(title: "x", from: t0, to: t0, resolutionSeconds: 900).render([]).contains("polyline"))
    }

    @Test func metricsCountOutcomesRejectReasonsAndDevices() {
        let metrics = DashboardMetrics()
        metrics.record(IngestOutcome(device: "gw-1", sequence: 1, result: .stored(snapshots: 2, values: 40, events: 0), ack: nil))
        metrics.record(IngestOutcome(device: "gw-1", sequence: 1, result: .duplicate, ack: nil))
        metrics.record(IngestOutcome(device: "gw-2", sequence: 7, result: .stored(snapshots: 1, values: 2, events: 0), ack: nil))
        metrics.record(IngestOutcome(device: "gw-3", sequence: 9, result: .rejected(.sequenceReused), ack: nil))
        metrics.record(IngestOutcome(device: "gw-3", sequence: 9, result: .rejected(.misrouted(topicDevice: "gw-4")), ack: nil))
        metrics.record(IngestOutcome(device: "gw-3", sequence: 10, result: .rejected(.sequenceReused), ack: nil))
        metrics.recordAckLatency(.milliseconds(3))
        metrics.recordAckLatency(.milliseconds(300))
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(text.contains("headend_messages_total{result=\"stored\"} 2"), "\(text)")
        #expect(text.contains("headend_messages_total{result=\"duplicate\"} 1"))
        #expect(text.contains("headend_messages_total{result=\"rejected\"} 3"))
        #expect(text.contains("headend_values_stored_total 42"))
        #expect(text.contains("headend_batches_rejected_total{reason=\"sequenceReused\"} 2"))
        #expect(text.contains("headend_batches_rejected_total{reason=\"misrouted\"} 1"))
        #expect(text.contains("headend_devices_seen 2"), "gw-1 and gw-2 sent batches; gw-3 only rejected ones: \(text)")
        #expect(text.contains("headend_ack_latency_seconds_count 2"))
        #expect(text.contains("headend_ack_latency_seconds_bucket{le=\"0.005\"} 1"))
    }
}
