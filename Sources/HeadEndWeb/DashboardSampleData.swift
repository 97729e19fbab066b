import ConcentratorCore
import HeadEnd
import SQLite

/// Synthetic rows written straight into a head-end SQLite database in its schema, for the dashboard's
/// benchmark and tests (a fleet of many devices, or one device with many meters over many days). Never
/// used by `headend run`. The database must have been created by `HeadEndDatabase.open` (schema in place).
public enum DashboardSampleData {
    /// `count` registered devices `dev-00000`…, each with a batch history (every 97th device has a gap),
    /// a status document, a clock event and, for every 13th device, an alarm at `now`.
    public static func fleet(path: String, count: Int, now: Timestamp) throws {
        let c = try SQLiteConnection(path: path, mode: .readWrite(create: false))
        defer { c.close() }
        _ = try c.transaction {
            for i in 0..<count {
                let id = Int64(i + 1)
                try c.run("INSERT INTO devices (id, name, registered, added) VALUES (?, ?, 1, ?)",
                          [.integer(id), .text(name(i)), .integer(now.milliseconds)])
                for sequence in Int64(1)...3 where !(i % 97 == 0 && sequence == 2) {
                    try c.run("""
                        INSERT INTO batches (device, sequence, digest, kind, flags, received, range_start, range_end, interval_seconds,
                                             meter_count, value_count, sealing_key, signing_key)
                        VALUES (?, ?, ?, 1, 0, ?, 0, 0, 3600, 1, 4, 'k', 'k')
                        """, [.integer(id), .integer(sequence), .blob([UInt8](repeating: UInt8(sequence), count: 32)),
                              .integer(now.milliseconds - Int64(i % 3600) * 1000)])
                }
                try c.run("INSERT INTO device_status (device, received, state, pending) VALUES (?, ?, 'online', ?)",
                          [.integer(id), .integer(now.milliseconds - 5000), .integer(Int64(i % 5))])
                try event(c, device: id, sequence: 3, position: 0, time: now.adding(seconds: -600),
                          kind: i % 11 == 0 ? .clockUnsynchronised : .clockSynchronised, severity: .info, message: "clock")
                if i % 13 == 0 {
                    try event(c, device: id, sequence: 3, position: 1, time: now, kind: .meterAlarm, severity: .warning, message: "cover open")
                }
            }
        }
    }

    /// One device `name` with `meters` meters and `days` days of `series` snapshots every `intervalSeconds`
    /// ending at `end`: quantities `active_power` (a daily curve per meter) and `active_energy_import` (rising).
    public static func device(path: String, name: String, meters: Int, days: Int, intervalSeconds: Int64, series: SeriesKind,
                              end: Timestamp) throws {
        let c = try SQLiteConnection(path: path, mode: .readWrite(create: false))
        defer { c.close() }
        _ = try c.transaction {
            try c.run("INSERT OR IGNORE INTO devices (name, registered, added) VALUES (?, 1, ?)", [.text(name), .integer(end.milliseconds)])
            guard let device = try c.queryInt64("SELECT id FROM devices WHERE name = ?", [.text(name)]) else { return }
            try c.run("INSERT OR IGNORE INTO layouts (quantities) VALUES ('active_power,active_energy_import')")
            let layout = try c.queryInt64("SELECT id FROM layouts WHERE quantities = 'active_power,active_energy_import'") ?? 1
            let steps = Int64(days) * 86_400 / intervalSeconds
            let start = end.milliseconds - steps * intervalSeconds * 1000
            let insert = try c.prepared("INSERT OR IGNORE INTO snapshots (device, series, interval_start, meter, sequence, layout, data) VALUES (?, ?, ?, ?, 1, ?, ?)")
            for m in 0..<meters {
                let meterName = "bus1-m\(m + 1)"
                try c.run("INSERT OR IGNORE INTO meters (device, name) VALUES (?, ?)", [.integer(device), .text(meterName)])
                guard let meter = try c.queryInt64("SELECT id FROM meters WHERE device = ? AND name = ?", [.integer(device), .text(meterName)]) else { continue }
                var energy = Double(m) * 1000
                for step in 0..<steps {
                    let t = start + step * intervalSeconds * 1000
                    let hour = Double((t / 3_600_000) % 24)
                    let power = 500 + Double(m * 10) + 400 * (hour >= 7 && hour <= 21 ? 1 : 0.2)
                    energy += power * Double(intervalSeconds) / 3_600_000
                    let data = SnapshotCodec.encode(SnapshotRowPayload(gatewayOffsetMilliseconds: 1500, meterTimeOffsetMilliseconds: nil,
                                                                       clockUnsynced: false, slots: [.value(power), .value(energy)]))
                    insert.reset()
                    try insert.bind([.integer(device), .integer(series == .interval ? 0 : 1), .integer(t), .integer(meter), .integer(layout), .blob(data)])
                    _ = try insert.step()
                }
            }
        }
    }

    public static func name(_ i: Int) -> String {
        let digits = String(i)
        return "dev-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    static func event(_ c: SQLiteConnection, device: Int64, sequence: Int64, position: Int64, time: Timestamp, kind: GatewayEvent.Kind,
                      severity: GatewayEvent.Severity, message: String) throws {
        try c.run("INSERT INTO events (device, sequence, position, time, kind, severity, message) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  [.integer(device), .integer(sequence), .integer(position), .integer(time.milliseconds), .integer(Int64(kind.rawValue)),
                   .integer(Int64(severity.rawValue)), .text(message)])
    }
}
