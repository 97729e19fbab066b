import Foundation

/// One line of meter-sim's served log, as a test sees it.
public struct ServedLine: Sendable {
    public var timeMilliseconds: Int64
    /// The Modbus slave or DLMS physical address (0 for an IEC 62056-21 record).
    public var slave: Int
    public var function: Int
    /// The device address of an IEC 62056-21 record.
    public var device: String?
    public var values: [String: Double]
    public var fault: String?
    /// DLMS: the object served (`1-0:1.8.0.255/2`, `…/m1`).
    public var object: String?
    /// DLMS: the client's invocation counters this request carried (the APDU's, and f(StoC)'s).
    public var invocationCounters: [UInt32]

    /// The key `servedValues` files this line's values under: the slave, or the IEC device address.
    public var meterKey: String { device ?? String(slave) }
    /// The registers a read asked for, and the exception the meter answered with, if any.
    public var count: Int?
    public var exception: Int?
}

/// Reads meter-sim's served log (JSON lines) so a test can compare what arrived with what was served.
public enum ServedLogReader {
    /// Uses JSONDecoder: Foundation's JSONSerialization parses doubles inexactly on Linux
    /// (233.79104614257812 comes back as 233.79104614257804), which would break exact comparisons.
    public static func read(_ path: String) -> [ServedLine] {
        struct Line: Decodable {
            var t_ms: Int64?
            var slave: Int?
            var function: Int?
            var device: String?
            var values: [String: Double]?
            var fault: String?
            var object: String?
            var ic: UInt32?
            var ic_auth: UInt32?
            var count: Int?
            var exception: Int?
        }
        let decoder = JSONDecoder()
        return readTextFile(path).split(separator: "\n").compactMap { text in
            guard let line = try? decoder.decode(Line.self, from: Data(text.utf8)), line.slave != nil || line.device != nil else { return nil }
            return ServedLine(timeMilliseconds: line.t_ms ?? 0, slave: line.slave ?? 0, function: line.function ?? 0, device: line.device,
                              values: line.values ?? [:], fault: line.fault, object: line.object,
                              invocationCounters: [line.ic, line.ic_auth].compactMap { $0 },
                              count: line.count, exception: line.exception)
        }
    }

    /// Every (slave or IEC device address, quantity) → the set of values served for it.
    public static func servedValues(_ lines: [ServedLine]) -> [String: Set<Double>] {
        var out: [String: Set<Double>] = [:]
        for line in lines {
            for (q, v) in line.values { out["\(line.meterKey)/\(q)", default: []].insert(v) }
        }
        return out
    }
}
