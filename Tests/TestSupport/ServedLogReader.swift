import Foundation

/// One line of meter-sim's served log, as a test sees it.
public struct ServedLine: Sendable {
    public var timeMilliseconds: Int64
    public var slave: Int
    public var function: Int
    public var values: [String: Double]
    public var fault: String?
    /// The registers a read asked for, and the exception the meter answered with, if any.
    public var count: Int? = nil
    public var exception: Int? = nil
}

/// Reads meter-sim's served log (JSON lines) so a test can compare what arrived with what was served.
public enum ServedLogReader {
    /// Uses JSONDecoder: Foundation's JSONSerialization parses doubles inexactly on Linux
    /// (233.79104614257812 comes back as 233.79104614257804), which would break exact comparisons.
    public static func read(_ path: String) -> [ServedLine] {
        struct Line: Decodable {
            var t_ms: Int64?
            var slave: Int
            var function: Int
            var values: [String: Double]?
            var fault: String?
            var count: Int?
            var exception: Int?
        }
        let decoder = JSONDecoder()
        return readTextFile(path).split(separator: "\n").compactMap { text in
            guard let line = try? decoder.decode(Line.self, from: Data(text.utf8)) else { return nil }
            return ServedLine(timeMilliseconds: line.t_ms ?? 0, slave: line.slave, function: line.function,
                              values: line.values ?? [:], fault: line.fault, count: line.count, exception: line.exception)
        }
    }

    /// Every (slave, quantity) → the set of values served for it.
    public static func servedValues(_ lines: [ServedLine]) -> [String: Set<Double>] {
        var out: [String: Set<Double>] = [:]
        for line in lines {
            for (q, v) in line.values { out["\(line.slave)/\(q)", default: []].insert(v) }
        }
        return out
    }
}
