#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConcentratorCore

/// Deterministic, plausible meter data for the benchmark: half the meters deliver binary32 registers
/// (full-precision noise, like an SDM630), half deliver integer registers times a scale (0.1 V,
/// 1 mA, 1 W, 0.001 power factor, 0.01 Hz, 0.01 kWh). Energy counters only grow.
struct SyntheticMeters {
    static let quantities: [QuantityID] = [
        "voltage_l1", "voltage_l2", "voltage_l3", "voltage_l1_l2", "voltage_l2_l3", "voltage_l3_l1",
        "current_l1", "current_l2", "current_l3", "current_neutral",
        "active_power_total", "active_power_l1", "active_power_l2", "active_power_l3",
        "reactive_power_total", "apparent_power_total", "power_factor_l1", "power_factor_l2", "power_factor_l3",
        "frequency",
        "active_energy_import", "active_energy_export", "active_energy_import_t1", "active_energy_import_t2",
        "active_energy_export_t1", "active_energy_export_t2", "active_energy_total",
        "reactive_energy_import", "reactive_energy_export", "apparent_energy_total",
    ]

    let origin: Timestamp
    let schedule = IntervalSchedule(minutes: 60)

    func meterID(_ index: Int) -> MeterID {
        let digits = String(index)
        return MeterID("m-" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits)
    }

    func intervalStart(_ interval: Int) -> Timestamp {
        origin.adding(milliseconds: Int64(interval) * schedule.lengthMilliseconds)
    }

    /// The snapshot of meter `meter` for interval number `interval` (0 = `origin`).
    func snapshot(meter: Int, interval: Int) -> MeterSnapshot {
        var random = SplitMix64(seed: UInt64(meter) &* 1_000_003 &+ UInt64(interval))
        let start = intervalStart(interval)
        let gateway = start.adding(milliseconds: 1500 + Int64(meter) * 40 + Int64(random.next() % 400))
        // About one snapshot in 400 is a meter that did not answer.
        if random.next() % 400 == 0 {
            return MeterSnapshot(meter: meterID(meter), intervalStart: start, gatewayTime: gateway,
                                 values: Self.quantities.map { QuantityValue(quantity: $0, error: .noResponse) })
        }
        let floatMeter = meter % 2 == 0
        let hourOfDay = Double(interval % 24)
        let load = (0.3 + Double(meter % 17) * 0.35) * (0.6 + 0.4 * sin((hourOfDay - 6) / 24 * 2 * Double.pi))
        var values: [Double] = []
        func noise(_ amplitude: Double) -> Double { (Double(random.next() % 2_000_001) / 1_000_000 - 1) * amplitude }
        for _ in 0..<3 { values.append(230 + noise(4)) }
        for _ in 0..<3 { values.append(400 + noise(6)) }
        let current = load * 1000 / 230 / 3
        for _ in 0..<3 { values.append(max(0, current + noise(current * 0.1))) }
        values.append(abs(noise(current * 0.05)))
        values.append(load * 1000 + noise(20))
        for _ in 0..<3 { values.append(load * 1000 / 3 + noise(10)) }
        values.append(load * 200 + noise(10))
        values.append(load * 1030 + noise(10))
        for _ in 0..<3 { values.append(0.97 + noise(0.02)) }
        values.append(50 + noise(0.05))
        // Counters: kWh since installation; strictly growing with the daily load curve.
        let hours = Double(interval) + 1000 * Double(meter % 50)
        let energy = hours * (0.3 + Double(meter % 17) * 0.35) * 0.6 + 0.3 * sin(hours / 24 * 2 * Double.pi)
        for share in [1.0, 0.02, 0.6, 0.4, 0.012, 0.008, 1.02, 0.3, 0.05, 1.05] { values.append(energy * share + 120) }

        let scales: [Double] = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.001, 0.001, 0.001, 0.001, 1, 1, 1, 1, 1, 1,
                                0.001, 0.001, 0.001, 0.01] + Array(repeating: 0.01, count: 10)
        let stored: [Double] = zip(values, scales).enumerated().map { index, pair in
            let (v, scale) = pair
            if index >= 20 {
                // Energy registers hold 0.01 kWh steps in both kinds of meter.
                let hundredths = (v * 100).rounded(.down)
                return floatMeter ? Double(Float(hundredths / 100)) : hundredths * 0.01
            }
            return floatMeter ? Double(Float(v)) : (v / scale).rounded() * scale
        }
        return MeterSnapshot(meter: meterID(meter), intervalStart: start, gatewayTime: gateway,
                             values: zip(Self.quantities, stored).map { QuantityValue(quantity: $0, value: $1) })
    }
}

/// A small, fast, deterministic pseudo-random generator (Steele, Lea and Flood's SplitMix64).
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
