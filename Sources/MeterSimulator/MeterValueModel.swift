import ConcentratorCore

/// Whether a meter's breaking relay lets power through, and how much load time it missed while open.
/// Energy counters integrate only the supplied time, so they stop while the relay is open and go on
/// from the same value when it closes.
public struct SupplyLedger: Hashable, Sendable {
    public private(set) var isConnected = true
    private var missed = TariffHours(day: 0, night: 0)
    private var openedAt: Timestamp?

    public init() {}

    /// Opens (`connected == false`) or closes the relay at `time`.
    public mutating func setConnected(_ connected: Bool, at time: Timestamp, shape: LoadShape) {
        guard connected != isConnected else { return }
        if connected, let opened = openedAt {
            missed = missed + (shape.integral(to: max(time, opened)) - shape.integral(to: opened))
            openedAt = nil
        } else if !connected {
            openedAt = time
        }
        isConnected = connected
    }

    /// Load hours actually supplied from the reference epoch to `time`.
    public func suppliedHours(at time: Timestamp, shape: LoadShape) -> TariffHours {
        let end = openedAt.map { min($0, time) } ?? time
        let hours = shape.integral(to: end) - missed
        return TariffHours(day: max(0, hours.day), night: max(0, hours.night))
    }
}

extension TariffHours {
    static func + (a: TariffHours, b: TariffHours) -> TariffHours {
        TariffHours(day: a.day + b.day, night: a.night + b.night)
    }
}

/// The readings of one simulated meter as a function of time. Everything derives from the meter's
/// seed, so two runs with the same seed serve the same numbers at the same simulated time:
/// - per-phase voltage around 230 V, frequency around 50 Hz, small noise that changes every second;
/// - load following the household day/night curve, split over three phases;
/// - power factor 0.85–0.99, power = V·I·PF, reactive and apparent power to match;
/// - energy counters that integrate the curve in closed form, so they only grow, with the day and
///   night tariffs summing to the total.
public struct MeterValueModel: Hashable, Sendable {
    public let seed: UInt64
    /// The meter's own load curve (the household curve lifted by a base load).
    public let shape: LoadShape
    /// Total active power at load level 1.0, in W.
    public let peakPowerWatts: Double
    public let powerFactor: Double
    /// How the load divides over L1, L2, L3 (sums to 1).
    public let phaseShares: [Double]
    public let nominalVoltages: [Double]
    /// Import energy already on the counter at the reference epoch, in kWh.
    public let importAtEpoch: Double
    /// Export energy (a constant: these consumers do not feed in), in kWh.
    public let exportEnergy: Double
    public let installedAt: Timestamp

    public init(seed: UInt64, baseShape: LoadShape = .household) {
        self.seed = seed
        var random = SeededRandom(seed: seed)
        let base = random.uniform(0.05...0.25)
        shape = LoadShape(hourly: baseShape.hourly.map { base + (1 - base) * $0 })
        peakPowerWatts = random.uniform(1500...8000)
        powerFactor = random.uniform(0.85...0.99)
        let raw = (0..<3).map { _ in random.uniform(0.25...0.42) }
        let sum = raw.reduce(0, +)
        phaseShares = raw.map { $0 / sum }
        nominalVoltages = (0..<3).map { _ in random.uniform(227...233) }
        importAtEpoch = random.uniform(0...5000)
        exportEnergy = random.unitInterval() < 0.7 ? 0 : random.uniform(5...300)
        installedAt = LoadShape.referenceEpoch.adding(seconds: -Int64(random.uniform(0...94_000_000)))
    }

    /// Every quantity this model knows, at `time`, given the relay state in `supply`.
    public func values(at time: Timestamp, supply: SupplyLedger) -> [QuantityID: Double] {
        let tick = time.seconds
        func noise(_ name: String) -> Double { SeededRandom.noise(seed: seed, key: SeededRandom.key(name), tick: tick) }
        let connected = supply.isConnected
        let level = connected ? shape.level(at: time) : 0
        let totalPower = peakPowerWatts * level * (1 + 0.04 * noise("p"))

        var v: [QuantityID: Double] = [:]
        var volts: [Double] = [], amps: [Double] = [], watts: [Double] = [], vars: [Double] = [], vas: [Double] = []
        for phase in 0..<3 {
            let n = "l\(phase + 1)"
            let voltage = nominalVoltages[phase] + 1.5 * noise("v" + n)
            let pf = min(0.999, powerFactor + 0.01 * noise("pf" + n))
            let power = totalPower * phaseShares[phase]
            let current = power / (voltage * pf)
            let apparent = voltage * current
            let reactive = (apparent * apparent - power * power).squareRoot()
            volts.append(voltage); amps.append(current); watts.append(power); vars.append(reactive); vas.append(apparent)
            v[QuantityID("voltage_" + n)] = voltage
            v[QuantityID("current_" + n)] = current
            v[QuantityID("active_power_" + n)] = power
            v[QuantityID("reactive_power_" + n)] = reactive
            v[QuantityID("apparent_power_" + n)] = apparent
            v[QuantityID("power_factor_" + n)] = connected ? pf : 1
            v[QuantityID("thd_voltage_" + n)] = 2 + 0.8 * noise("thd" + n)
        }
        func lineToLine(_ a: Int, _ b: Int) -> Double { (volts[a] * volts[a] + volts[b] * volts[b] + volts[a] * volts[b]).squareRoot() }
        v["voltage_l1_l2"] = lineToLine(0, 1)
        v["voltage_l2_l3"] = lineToLine(1, 2)
        v["voltage_l3_l1"] = lineToLine(2, 0)
        // Phasor sum of three currents 120° apart (equal power factors).
        let neutral = amps[0] * amps[0] + amps[1] * amps[1] + amps[2] * amps[2] - amps[0] * amps[1] - amps[1] * amps[2] - amps[2] * amps[0]
        v["current_neutral"] = max(0, neutral).squareRoot()
        let p = watts.reduce(0, +), q = vars.reduce(0, +), s = vas.reduce(0, +)
        v["active_power_total"] = p
        v["reactive_power_total"] = q
        v["apparent_power_total"] = s
        v["power_factor_total"] = s > 0 ? p / s : 1
        v["frequency"] = 50 + 0.03 * noise("f")

        let supplied = supply.suppliedHours(at: time, shape: shape)
        let earlier = supply.suppliedHours(at: time.adding(seconds: -900), shape: shape)
        v["active_power_demand"] = max(0, supplied.total - earlier.total) * 4 * peakPowerWatts

        let peakKW = peakPowerWatts / 1000
        let imported = importAtEpoch + peakKW * supplied.total
        let reactiveRatio = (1 / (powerFactor * powerFactor) - 1).squareRoot()
        v["active_energy_import"] = imported
        v["active_energy_import_t1"] = importAtEpoch * 0.62 + peakKW * supplied.day
        v["active_energy_import_t2"] = importAtEpoch * 0.38 + peakKW * supplied.night
        v["active_energy_export"] = exportEnergy
        v["active_energy_export_t1"] = exportEnergy * 0.7
        v["active_energy_export_t2"] = exportEnergy * 0.3
        v["active_energy_total"] = imported + exportEnergy
        for phase in 0..<3 {
            v[QuantityID("active_energy_import_l\(phase + 1)")] = imported * phaseShares[phase]
            v[QuantityID("active_energy_export_l\(phase + 1)")] = exportEnergy * phaseShares[phase]
        }
        v["reactive_energy_import"] = imported * reactiveRatio
        v["reactive_energy_export"] = exportEnergy * reactiveRatio
        v["reactive_energy_total"] = (imported + exportEnergy) * reactiveRatio
        v["apparent_energy_total"] = imported / powerFactor
        v["meter_uptime"] = Double(max(0, time.seconds - installedAt.seconds))

        // Water and heat meters share the same curve (hot water and heating follow the household).
        v["water_volume"] = importAtEpoch / 50 + 0.08 * supplied.total
        v["water_flow"] = 0.6 * level * (1 + 0.05 * noise("wf"))
        v["heat_energy"] = importAtEpoch / 2 + 3 * supplied.total
        v["heat_flow_temperature"] = 65 + 3 * noise("tf")
        v["heat_return_temperature"] = 42 + 2 * noise("tr")
        return v
    }
}
