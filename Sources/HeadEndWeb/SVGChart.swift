import ConcentratorCore

/// A line chart rendered on the server as SVG: one line per meter, values averaged into buckets of
/// `resolutionSeconds` (900 for the 15-minute view, 3600 for the hourly one), time on x, value on y.
/// Coordinates are integers in a 10000 × 4000 view box stretched to the page width, so the text stays
/// small and the rendering fast (45 days hourly for 64 meters is 69,120 points). No script.
public struct SVGChart: Sendable {
    public var title: String
    public var from: Timestamp
    public var to: Timestamp
    public var resolutionSeconds: Int64

    static let width = 10_000, height = 4_000
    /// Distinct colours, cycled for the meters (the legend repeats them).
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    public init(title: String, from: Timestamp, to: Timestamp, resolutionSeconds: Int64) {
        self.title = title
        self.from = from
        self.to = to
        self.resolutionSeconds = max(60, resolutionSeconds)
    }

    /// Buckets one meter's points: the mean of the values whose time falls in each bucket, in time order.
    public func bucketed(_ s: MeterSeries) -> [(start: Int64, value: Double)] {
        let res = resolutionSeconds * 1000
        var out: [(Int64, Double)] = []
        out.reserveCapacity(s.times.count)
        var current: Int64 = .min, sum = 0.0, n = 0.0
        for (t, v) in zip(s.times, s.values) {
            let b = t.milliseconds >= 0 ? t.milliseconds / res * res : (t.milliseconds - res + 1) / res * res
            if b != current {
                if n > 0 { out.append((current, sum / n)) }
                current = b
                sum = 0
                n = 0
            }
            sum += v
            n += 1
        }
        if n > 0 { out.append((current, sum / n)) }
        return out
    }

    /// The SVG element, to embed in a page.
    public func render(_ series: [MeterSeries]) -> String {
        let buckets = series.map(bucketed)
        var lo = Double.infinity, hi = -Double.infinity
        for b in buckets { for p in b { lo = min(lo, p.value); hi = max(hi, p.value) } }
        let points = buckets.reduce(0) { $0 + $1.count }
        var svg = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Self.width) \(Self.height)\" "
            + "preserveAspectRatio=\"none\" role=\"img\" aria-label=\"\(HTML.escape(title))\" data-points=\"\(points)\">"
        svg += "<title>\(HTML.escape(title))</title><rect x=\"0\" y=\"0\" width=\"\(Self.width)\" height=\"\(Self.height)\" fill=\"#fff\"/>"
        for i in 1..<4 {
            let y = Self.height * i / 4
            svg += "<line x1=\"0\" y1=\"\(y)\" x2=\"\(Self.width)\" y2=\"\(y)\" stroke=\"#ddd\" vector-effect=\"non-scaling-stroke\"/>"
        }
        guard points > 0 else { return svg + "</svg>" }
        // A margin of 5 % above and below (a flat line sits in the middle).
        let pad = hi == lo ? max(1, abs(lo) * 0.05) : (hi - lo) * 0.05
        lo -= pad
        hi += pad
        let t0 = from.milliseconds, span = Double(max(1, to.milliseconds - t0))
        let w = Double(Self.width), h = Double(Self.height), range = hi - lo
        svg.reserveCapacity(svg.utf8.count + points * 11 + series.count * 160)
        for (i, b) in buckets.enumerated() where !b.isEmpty {
            // Few points: thick round caps, so that a lone value shows as a dot (a zero-length line).
            svg += "<polyline fill=\"none\" stroke=\"\(Self.palette[i % Self.palette.count])\" stroke-width=\"\(b.count < 50 ? "6" : "1.5")\" "
                + "stroke-linecap=\"round\" stroke-linejoin=\"round\" vector-effect=\"non-scaling-stroke\" "
                + "data-meter=\"\(HTML.escape(series[i].meter.rawValue))\" points=\""
            for p in b.count == 1 ? b + b : b {
                let x = Int((Double(p.start - t0) / span * w).rounded())
                let y = Int(((hi - p.value) / range * h).rounded())
                svg += String(x)
                svg += ","
                svg += String(y)
                svg += " "
            }
            svg += "\"/>"
        }
        return svg + "</svg>"
    }

    /// The axis labels under and beside the chart (HTML, outside the stretched SVG so text is not distorted).
    public static func axis(series: [MeterSeries], from: Timestamp, to: Timestamp) -> String {
        var lo = Double.infinity, hi = -Double.infinity
        for s in series { for v in s.values { lo = min(lo, v); hi = max(hi, v) } }
        let range = lo.isFinite ? "min \(format(lo)), max \(format(hi))" : "no values"
        return "<p class=\"axis\">\(HTML.escape(ISO8601.format(from))) … \(HTML.escape(ISO8601.format(to))) · \(range)</p>"
    }

    static func format(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return r == r.rounded() && abs(r) < 1e15 ? String(Int64(r)) : String(r)
    }
}
