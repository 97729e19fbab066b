import Foundation

/// One line of meter-sim's served log, as a test sees it.
public struct ServedLine: Sendable {
    public var timeMilliseconds: Int64
    public var slave: Int
    public var function: Int
    public var values: [String: Double]
    public var fault: String?
}

/// Reads meter-sim's served log (JSON lines) so a test can compare what arrived with what was served.
public enum ServedLogReader {
    public static func read(_ path: String) -> [ServedLine] {
        readTextFile(path).split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            var values: [String: Double] = [:]
            for (k, v) in (object["values"] as? [String: Any]) ?? [:] {
                if let n = v as? NSNumber { values[k] = n.doubleValue }
            }
            return ServedLine(timeMilliseconds: (object["t_ms"] as? NSNumber)?.int64Value ?? 0,
                              slave: (object["slave"] as? NSNumber)?.intValue ?? -1,
                              function: (object["function"] as? NSNumber)?.intValue ?? -1,
                              values: values, fault: object["fault"] as? String)
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
