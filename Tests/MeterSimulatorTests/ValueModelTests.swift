import Testing
import ConcentratorCore
@testable import MeterSimulator

@Suite struct ValueModelTests {
    let day = ISO8601.parse("2026-11-21T00:00:00Z")!

    @Test func flatShapeIntegratesToHoursSplitByTariff() {
        let flat = LoadShape(hourly: Array(repeating: 1, count: 24))
        let start = ISO8601.parse("2026-01-01T00:00:00Z")!
        let base = flat.integral(to: start)
        // From 00:00 to 12:00 the next day: day tariff 06-22 (16 h) + 06-12 (6 h); night 8 h + 6 h.
        let span = flat.integral(to: start.adding(seconds: 36 * 3600)) - base
        #expect(abs(span.day - 22) < 1e-9)
        #expect(abs(span.night - 14) < 1e-9)
        #expect(flat.integral(to: Timestamp(seconds: 0)) == TariffHours(day: 0, night: 0), "before the reference epoch")
    }

    @Test func levelIsLinearBetweenHours() {
        let shape = LoadShape.household
        let halfPast = day.adding(seconds: 19 * 3600 + 1800)
        #expect(abs(shape.level(at: halfPast) - (shape.hourly[19] + shape.hourly[20]) / 2) < 1e-12)
        // The integral's slope is the level: a one-second difference quotient.
        let t = day.adding(seconds: 7 * 3600 + 1234)
        let slope = (shape.integral(to: t.adding(seconds: 1)).total - shape.integral(to: t).total) * 3600
        #expect(abs(slope - shape.level(at: t)) < 1e-4)
    }

    @Test func energyCountersOnlyGrowOver45Days() {
        for seed in [UInt64(1), 2, 77, 12_345] {
            let model = MeterValueModel(seed: seed)
            var previous: [QuantityID: Double] = [:]
            var time = day
            var random = SeededRandom(seed: seed)
            for _ in 0..<2500 {
                let values = model.values(at: time, supply: SupplyLedger())
                for q in ["active_energy_import", "active_energy_import_t1", "active_energy_import_t2", "active_energy_total",
                          "reactive_energy_import", "apparent_energy_total", "meter_uptime"] as [QuantityID] {
                    let v = values[q]!
                    if let p = previous[q] {
                        #expect(v >= p, "\(q) went back at \(time)")
                        #expect(Float(v) >= Float(p), "\(q) goes back once rounded to f32")
                    }
                    previous[q] = v
                }
                let tariffs = values["active_energy_import_t1"]! + values["active_energy_import_t2"]!
                #expect(abs(tariffs - values["active_energy_import"]!) < 1e-6)
                time = time.adding(seconds: Int64(random.uniform(1...3900)))
            }
            #expect(time > day.adding(seconds: 45 * 86_400))
        }
    }

    @Test func nightLoadIsBelowDayLoad() {
        for seed in UInt64(1)...50 {
            let model = MeterValueModel(seed: seed)
            let night = model.values(at: day.adding(seconds: 3 * 3600), supply: SupplyLedger())["active_power_total"]!
            let evening = model.values(at: day.adding(seconds: 19 * 3600), supply: SupplyLedger())["active_power_total"]!
            let morning = model.values(at: day.adding(seconds: 8 * 3600), supply: SupplyLedger())["active_power_total"]!
            #expect(night < evening / 2, "seed \(seed): night \(night) W, evening \(evening) W")
            #expect(night < morning, "seed \(seed)")
        }
    }

    @Test func electricalValuesAreConsistentAndPlausible() {
        for seed in UInt64(1)...20 {
            let model = MeterValueModel(seed: seed)
            let v = model.values(at: day.adding(seconds: 18 * 3600 + 77), supply: SupplyLedger())
            var sum = 0.0
            for n in ["l1", "l2", "l3"] {
                let volts = v[QuantityID("voltage_" + n)]!, amps = v[QuantityID("current_" + n)]!
                let pf = v[QuantityID("power_factor_" + n)]!, watts = v[QuantityID("active_power_" + n)]!
                #expect((220.0...240.0).contains(volts))
                #expect((0.84...1.0).contains(pf))
                #expect(amps > 0 && amps < 100)
                #expect(abs(volts * amps * pf - watts) < 1e-6 * watts)
                sum += watts
            }
            #expect(abs(sum - v["active_power_total"]!) < 1e-6)
            #expect((49.9...50.1).contains(v["frequency"]!))
            #expect((358.0...438.0).contains(v["voltage_l1_l2"]!))
            #expect((1000.0...600_000.0).contains(v["active_energy_import"]!))
        }
    }

    @Test func energyGrowthMatchesMeanPower() {
        let model = MeterValueModel(seed: 3)
        let start = day.adding(seconds: 17 * 3600)
        let e0 = model.values(at: start, supply: SupplyLedger())["active_energy_import"]!
        let e1 = model.values(at: start.adding(seconds: 3600), supply: SupplyLedger())["active_energy_import"]!
        let samples = stride(from: 0, to: 3600, by: 10).map {
            model.values(at: start.adding(seconds: Int64($0)), supply: SupplyLedger())["active_power_total"]!
        }
        let meanKW = samples.reduce(0, +) / Double(samples.count) / 1000
        #expect(abs((e1 - e0) - meanKW) < 0.03 * meanKW, "energy \(e1 - e0) kWh vs mean power \(meanKW) kW")
    }

    @Test func sameSeedSameValues() {
        let t = day.adding(seconds: 12_345)
        #expect(MeterValueModel(seed: 8).values(at: t, supply: SupplyLedger()) == MeterValueModel(seed: 8).values(at: t, supply: SupplyLedger()))
        #expect(MeterValueModel(seed: 8).values(at: t, supply: SupplyLedger())["voltage_l1"]
            != MeterValueModel(seed: 9).values(at: t, supply: SupplyLedger())["voltage_l1"])
    }
}
