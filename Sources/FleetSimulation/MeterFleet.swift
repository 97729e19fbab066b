import ConcentratorCore

/// A small deterministic generator (SplitMix64), so every run measures the same bytes.
public struct SplitMix64: Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [a, b).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(next() >> 11) / Double(1 << 53) }
    /// Roughly normal (sum of four uniforms), mean 0, standard deviation `sd`.
    public mutating func normal(_ sd: Double) -> Double { (uniform(-1, 1) + uniform(-1, 1) + uniform(-1, 1) + uniform(-1, 1)) * sd * 0.866 }
}

/// How a meter delivers numbers, which decides their exact bit patterns.
public enum MeterStyle: String, Sendable {
    /// Integer registers times the profile's scale (0.1 V, 0.001 A, 1 W, 0.01 kWh): value = Double(raw) * scale.
    case scaledRegisters
    /// IEEE float32 registers with the meter's full measurement noise (SDM630-like).
    case float32
}

/// The 30 quantities of a three-phase meter in the benchmark: 20 instantaneous, 10 counters.
public let benchQuantities: [QuantityID] = [
    "voltage_l1", "voltage_l2", "voltage_l3", "voltage_l1_l2", "voltage_l2_l3", "voltage_l3_l1",
    "current_l1", "current_l2", "current_l3", "current_neutral",
    "active_power_total", "active_power_l1", "active_power_l2", "active_power_l3",
    "reactive_power_total", "apparent_power_total", "power_factor_total", "frequency", "active_power_demand", "thd_voltage_l1",
    "active_energy_import", "active_energy_export", "active_energy_import_t1", "active_energy_import_t2",
    "active_energy_import_l1", "active_energy_import_l2", "active_energy_import_l3",
    "reactive_energy_import", "reactive_energy_export", "apparent_energy_total",
]

/// A fleet of household and small-commercial three-phase meters with plausible, correlated values:
/// one grid voltage per feeder, per-phase loads, energy counters that only grow (t1 + t2 = total,
/// L1 + L2 + L3 = total in register units), a few meters with their own clock, two dead meters and
/// one register the meter refuses. Shared by uplink-bench, fleet-bench, the fleet simulator and the tests.
public struct Fleet: Sendable {
    struct Meter: Sendable {
        var id: MeterID
        var style: MeterStyle
        var hasClock: Bool
        var dead: Bool
        var peakAmps: Double
        var exportsPV: Bool
        /// Counters in register units of 0.01 kWh.
        var importT1: Int64, importT2: Int64, export: Int64, phaseShare: [Double], reactiveImport: Int64, reactiveExport: Int64
    }

    var meters: [Meter]
    var random: SplitMix64

    public init(count: Int, float32Share: Double, seed: UInt64) {
        random = SplitMix64(state: seed)
        meters = []
        for i in 0..<count {
            let style: MeterStyle = random.uniform(0, 1) < float32Share ? .float32 : .scaledRegisters
            let yearly = random.uniform(1500, 9000) * 100
            let years = random.uniform(0.5, 8)
            let total = Int64(yearly * years)
            let t1 = Int64(Double(total) * random.uniform(0.55, 0.7))
            let a = random.uniform(0.25, 0.4), b = random.uniform(0.25, 0.4)
            meters.append(Meter(id: MeterID("m-\(String(1000 + i).dropFirst())"), style: style,
                                hasClock: random.uniform(0, 1) < 0.3, dead: i == 37 || i == 200,
                                peakAmps: random.uniform(8, 40), exportsPV: random.uniform(0, 1) < 0.2,
                                importT1: t1, importT2: total - t1, export: 0, phaseShare: [a, b, 1 - a - b],
                                reactiveImport: Int64(Double(total) * random.uniform(0.15, 0.35)), reactiveExport: 0))
        }
    }

    /// Snapshots of every meter for the interval starting at `start`, advancing counters by one hour.
    public mutating func interval(start: Timestamp) -> [MeterSnapshot] {
        let feederVoltage = 230 + random.normal(2.5)
        var out: [MeterSnapshot] = []
        for (index, meter) in meters.enumerated() {
            var m = meter
            let gatewayTime = start.adding(milliseconds: 2000 + Int64(index) * 140 + Int64(random.uniform(0, 40)))
            let meterTime = m.hasClock ? Timestamp(seconds: gatewayTime.seconds + Int64(random.uniform(-3, 3))) : nil
            if m.dead {
                out.append(MeterSnapshot(meter: m.id, intervalStart: start, gatewayTime: gatewayTime, meterTime: nil,
                                         values: benchQuantities.map { QuantityValue(quantity: $0, error: .noResponse) }))
                continue
            }
            let volts = (0..<3).map { _ in feederVoltage + random.normal(1.2) }
            let amps = (0..<3).map { p in m.peakAmps * m.phaseShare[p] * 3 * random.uniform(0.05, 0.9) }
            let pfs = (0..<3).map { _ in random.uniform(0.86, 0.99) }
            let watts = (0..<3).map { volts[$0] * amps[$0] * pfs[$0] }
            let vars = (0..<3).map { watts[$0] * (1 / (pfs[$0] * pfs[$0]) - 1).squareRoot() }
            let p = watts.reduce(0, +), q = vars.reduce(0, +)
            let s = (p * p + q * q).squareRoot()
            // One hour of consumption at the mean load, in 0.01 kWh.
            let used = Int64(p / 1000 * 100 * random.uniform(0.8, 1.2))
            if (index + Int(start.seconds / 3600)) % 3 == 0 { m.importT1 += used } else { m.importT2 += used }
            if m.exportsPV { m.export += Int64(random.uniform(0, 250)) }
            m.reactiveImport += Int64(q / 1000 * 100)
            meters[index] = m
            let total = m.importT1 + m.importT2
            let l1 = Int64(Double(total) * m.phaseShare[0]), l2 = Int64(Double(total) * m.phaseShare[1])
            let apparent = Int64(Double(total) * 1.06)

            var values: [QuantityValue] = []
            func add(_ v: Double, scale: Double, f32Digits: Double? = nil) {
                let q = benchQuantities[values.count]
                switch m.style {
                case .scaledRegisters: values.append(QuantityValue(quantity: q, value: Double(Int64((v / scale).rounded())) * scale))
                case .float32:
                    // f32 meters report measurements with full noise; counters are f32 kWh.
                    let x = f32Digits.map { (v * $0).rounded() / $0 } ?? v
                    values.append(QuantityValue(quantity: q, value: Double(Float(x))))
                }
            }
            for v in volts { add(v, scale: 0.1) }
            for (a, b) in [(0, 1), (1, 2), (2, 0)] {
                add((volts[a] * volts[a] + volts[b] * volts[b] + volts[a] * volts[b]).squareRoot(), scale: 0.1)
            }
            for a in amps { add(a, scale: 0.001) }
            add(abs(amps[0] - amps[1]) * 0.6 + abs(amps[1] - amps[2]) * 0.4, scale: 0.001)
            add(p, scale: 1)
            for w in watts { add(w, scale: 1) }
            add(q, scale: 1)
            add(s, scale: 1)
            add(p / s, scale: 0.001)
            add(50 + random.normal(0.02), scale: 0.01)
            add(p * random.uniform(0.9, 1.1), scale: 1)
            add(random.uniform(1, 4), scale: 0.1)
            for counter in [total, m.export, m.importT1, m.importT2, l1, l2, total - l1 - l2, m.reactiveImport, m.reactiveExport, apparent] {
                add(Double(counter) / 100, scale: 0.01, f32Digits: 100)
            }
            if index == 5 { values[19] = QuantityValue(quantity: benchQuantities[19], error: .modbusException(2)) }
            out.append(MeterSnapshot(meter: m.id, intervalStart: start, gatewayTime: gatewayTime, meterTime: meterTime,
                                     values: values))
        }
        return out
    }
}
