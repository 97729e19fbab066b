import ConcentratorCore
@testable import Mesh
import Testing

@Suite("LoRa airtime and the EU868 duty cycle")
struct AirtimeAndDutyCycleTests {
    /// Published examples of Semtech's time-on-air formula (SX1276 datasheet §4.1.1.7, AN1200.13):
    /// - rfwireless-world.com "LoRaWAN Airtime calculator", example 1: SF7, CR 4/5, BW 125 kHz,
    ///   8 preamble symbols, 10 bytes, explicit header, LDRO off: Tsym 1.024 ms, preamble 12.544 ms,
    ///   header + payload 28.672 ms, packet 41.216 ms.
    /// - the same page, example 2: SF11, LDRO on, otherwise the same: preamble 200.704 ms,
    ///   header + payload 376.832 ms, packet 577.536 ms.
    /// - the "LoRa airtime" spreadsheet built from AN1200.13 (docs.google.com, 1voGAtQAjC1q…): 13 bytes,
    ///   SF9, explicit header, LDRO off, CR 4/5, 8 preamble symbols, BW 125 kHz: Tsym 4.096 ms,
    ///   Tpreamble 50.176 ms, payloadSymbNb 28, Tpacket 164.864 ms.
    @Test("time on air matches Semtech's published examples")
    func publishedExamples() {
        let sf7 = LoRaModulation(spreadingFactor: 7, bandwidthHz: 125_000, codingRate: 1, preambleSymbols: 8)
        #expect(sf7.symbolMilliseconds == 1.024)
        #expect(abs(sf7.airtimeMilliseconds(payloadBytes: 10) - 41.216) < 1e-9)
        #expect(abs(Double(sf7.payloadSymbols(payloadBytes: 10)) * sf7.symbolMilliseconds - 28.672) < 1e-9)

        let sf11 = LoRaModulation(spreadingFactor: 11, bandwidthHz: 125_000, codingRate: 1, preambleSymbols: 8, lowDataRateOptimize: true)
        #expect(sf11.usesLowDataRateOptimize)
        #expect(abs(sf11.airtimeMilliseconds(payloadBytes: 10) - 577.536) < 1e-9)
        #expect(abs(Double(sf11.payloadSymbols(payloadBytes: 10)) * sf11.symbolMilliseconds - 376.832) < 1e-9)

        let sf9 = LoRaModulation(spreadingFactor: 9, bandwidthHz: 125_000, codingRate: 1, preambleSymbols: 8, lowDataRateOptimize: false)
        #expect(sf9.symbolMilliseconds == 4.096)
        #expect(sf9.payloadSymbols(payloadBytes: 13) == 28)
        #expect(abs(sf9.airtimeMilliseconds(payloadBytes: 13) - 164.864) < 1e-9)
        #expect(sf9.airtimeMicroseconds(payloadBytes: 13) == 164_864)
    }

    @Test("the formula's terms: implicit header, CRC, coding rate and the automatic LDRO rule")
    func formulaTerms() throws {
        let base = LoRaModulation(spreadingFactor: 7)
        var implicit = base
        implicit.explicitHeader = false
        #expect(implicit.payloadSymbols(payloadBytes: 10) < base.payloadSymbols(payloadBytes: 10))
        var noCRC = base
        noCRC.crc = false
        #expect(noCRC.payloadSymbols(payloadBytes: 10) <= base.payloadSymbols(payloadBytes: 10))
        var cr48 = base
        cr48.codingRate = 4
        // 4 blocks of 8 symbols instead of 5 at 4/5: 8 + 4·8 = 40.
        #expect(cr48.payloadSymbols(payloadBytes: 10) == 40)
        // SF12 at 125 kHz has 32.768 ms symbols: LDRO switches on by itself; SF10 (8.192 ms) does not.
        #expect(LoRaModulation(spreadingFactor: 12).usesLowDataRateOptimize)
        #expect(!LoRaModulation(spreadingFactor: 10).usesLowDataRateOptimize)
        // A zero-length payload never goes below the 8 header symbols.
        #expect(LoRaModulation(spreadingFactor: 12).payloadSymbols(payloadBytes: 0) >= 8)
        #expect(throws: LoRaSettingsError.self) { try LoRaModulation(spreadingFactor: 13).validated() }
        #expect(throws: LoRaSettingsError.self) { try LoRaModulation(codingRate: 5).validated() }
    }

    @Test("EU868: 1 % of a rolling hour in 868.0–868.6 MHz; unknown sub-bands need a configured limit")
    func eu868() {
        #expect(EU868DutyCycle.limit(forFrequencyHz: 868_100_000) == 0.01)
        #expect(EU868DutyCycle.limit(forFrequencyHz: 868_500_000) == 0.01)
        #expect(EU868DutyCycle.limit(forFrequencyHz: 869_525_000) == nil)
        let budget = DutyCycleBudget()
        #expect(budget.limitMicroseconds == 36_000_000)
    }

    @Test("the budget admits until the limit, defers until old airtime leaves the window, and reserves for events")
    func budget() {
        var b = DutyCycleBudget(dutyCycle: 0.01, windowMilliseconds: 3_600_000)
        let start = Timestamp(milliseconds: 0)
        // 1 s transmissions every 10 s: backlog may use 50 % (18 s), newest 75 %, control 90 %, events 100 %.
        var t = start
        var sent = 0
        while b.admission(airtimeMicroseconds: 1_000_000, priority: .backlog, at: t) == .allowed {
            b.record(airtimeMicroseconds: 1_000_000, at: t)
            sent += 1
            t = t.adding(milliseconds: 10_000)
        }
        #expect(sent == 18)
        #expect(b.admission(airtimeMicroseconds: 1_000_000, priority: .newestInterval, at: t) == .allowed)
        for _ in 0..<9 {
            b.record(airtimeMicroseconds: 1_000_000, at: t)
            t = t.adding(milliseconds: 10_000)
        }
        // 27 s used: newest interval refused, control has 90 % = 32.4 s.
        guard case .deferred(let until) = b.admission(airtimeMicroseconds: 1_000_000, priority: .newestInterval, at: t) else {
            Issue.record("newest interval should be deferred at 27 s used")
            return
        }
        #expect(until == start.adding(milliseconds: 3_600_000))
        #expect(b.admission(airtimeMicroseconds: 1_000_000, priority: .control, at: t) == .allowed)
        for _ in 0..<5 { b.record(airtimeMicroseconds: 1_000_000, at: t) }
        // 32 s used: events only.
        #expect(b.admission(airtimeMicroseconds: 1_000_000, priority: .control, at: t) != .allowed)
        #expect(b.admission(airtimeMicroseconds: 1_000_000, priority: .event, at: t) == .allowed)
        #expect(b.admission(airtimeMicroseconds: 40_000_000, priority: .event, at: t) == .tooLong)
        // An hour after the first transmission it has left the window.
        let later = start.adding(milliseconds: 3_600_001)
        #expect(b.used(at: later) == 31_000_000)
        #expect(b.status(at: later).remainingMicroseconds == 5_000_000)
        #expect(b.refusals[.newestInterval] == 1 && b.refusals[.control] == 1)
    }

    @Test("summed over any hour, what the budget admitted never exceeds 1 %")
    func rollingSum() {
        var b = DutyCycleBudget()
        var random = SeededRandom(seed: 7)
        var log: [(Int64, Int64)] = []
        var t: Int64 = 0
        while t < 4 * 3_600_000 {
            let airtime = Int64(20_000 + random.next() % 400_000)
            let priority = MeshPriority(rawValue: UInt8(random.next() % 4))!
            if b.admission(airtimeMicroseconds: airtime, priority: priority, at: Timestamp(milliseconds: t)) == .allowed {
                b.record(airtimeMicroseconds: airtime, at: Timestamp(milliseconds: t))
                log.append((t, airtime))
            }
            t += Int64(100 + random.next() % 3_000)
        }
        for (start, _) in log {
            let sum = log.filter { $0.0 > start - 3_600_000 && $0.0 <= start }.reduce(Int64(0)) { $0 + $1.1 }
            #expect(sum <= 36_000_000, "window ending at \(start) ms holds \(sum) µs")
        }
        #expect(b.totalAirtimeMicroseconds == log.reduce(0) { $0 + $1.1 })
        #expect(b.totalAirtimeMicroseconds > 4 * 30_000_000)
    }
}
