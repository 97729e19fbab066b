/// Why LoRa radio settings are unusable.
public struct LoRaSettingsError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The LoRa modulation a radio link uses, and the time on air of a packet under it, by Semtech's
/// formula (SX1276/77/78/79 datasheet §4.1.1.7 "Time on air"; AN1200.13 "LoRa Modem Designer's Guide"):
///
///     Tsym = 2^SF / BW
///     Tpreamble = (npreamble + 4.25) · Tsym
///     payloadSymbNb = 8 + max(ceil((8·PL − 4·SF + 28 + 16·CRC − 20·IH) / (4·(SF − 2·DE))) · (CR + 4), 0)
///     Tpacket = Tpreamble + payloadSymbNb · Tsym
///
/// with IH = 1 for implicit header mode, DE = 1 with low-data-rate optimisation, CR = 1…4 for 4/5…4/8.
public struct LoRaModulation: Hashable, Sendable, CustomStringConvertible {
    /// 6…12.
    public var spreadingFactor: Int
    /// In hertz: 7_800 … 500_000 (125_000, 250_000 and 500_000 in EU868 practice).
    public var bandwidthHz: Int
    /// 1…4 for coding rates 4/5 … 4/8.
    public var codingRate: Int
    /// Programmed preamble length in symbols (8 in LoRaWAN).
    public var preambleSymbols: Int
    /// Explicit header (the default); false for implicit header mode.
    public var explicitHeader: Bool
    /// Payload CRC on (the default for uplinks).
    public var crc: Bool
    /// Low-data-rate optimisation; nil chooses it as the SX127x requires: on when a symbol lasts 16 ms or more.
    public var lowDataRateOptimize: Bool?

    public init(spreadingFactor: Int = 7, bandwidthHz: Int = 125_000, codingRate: Int = 1, preambleSymbols: Int = 8,
                explicitHeader: Bool = true, crc: Bool = true, lowDataRateOptimize: Bool? = nil) {
        self.spreadingFactor = spreadingFactor
        self.bandwidthHz = bandwidthHz
        self.codingRate = codingRate
        self.preambleSymbols = preambleSymbols
        self.explicitHeader = explicitHeader
        self.crc = crc
        self.lowDataRateOptimize = lowDataRateOptimize
    }

    /// Checks every field's range.
    public func validated() throws(LoRaSettingsError) -> LoRaModulation {
        guard (6...12).contains(spreadingFactor) else { throw LoRaSettingsError("spreading factor \(spreadingFactor) outside 6…12") }
        guard (7_800...500_000).contains(bandwidthHz) else { throw LoRaSettingsError("bandwidth \(bandwidthHz) Hz outside 7.8…500 kHz") }
        guard (1...4).contains(codingRate) else { throw LoRaSettingsError("coding rate index \(codingRate) outside 1…4 (4/5…4/8)") }
        guard (6...65_535).contains(preambleSymbols) else { throw LoRaSettingsError("preamble of \(preambleSymbols) symbols outside 6…65535") }
        return self
    }

    /// Symbol duration in milliseconds.
    public var symbolMilliseconds: Double { Double(1 << spreadingFactor) * 1000 / Double(bandwidthHz) }

    /// Whether low-data-rate optimisation is on (explicitly or by the 16 ms rule).
    public var usesLowDataRateOptimize: Bool { lowDataRateOptimize ?? (symbolMilliseconds >= 16) }

    /// Symbols of the payload part (header, payload, CRC), the formula's payloadSymbNb.
    public func payloadSymbols(payloadBytes: Int) -> Int {
        let de = usesLowDataRateOptimize ? 1 : 0
        let numerator = 8 * payloadBytes - 4 * spreadingFactor + 28 + (crc ? 16 : 0) - (explicitHeader ? 0 : 20)
        let denominator = 4 * (spreadingFactor - 2 * de)
        let blocks = numerator > 0 ? (numerator + denominator - 1) / denominator : 0
        return 8 + max(blocks * (codingRate + 4), 0)
    }

    /// Time on air of a packet with `payloadBytes` bytes, in milliseconds.
    public func airtimeMilliseconds(payloadBytes: Int) -> Double {
        (Double(preambleSymbols) + 4.25 + Double(payloadSymbols(payloadBytes: payloadBytes))) * symbolMilliseconds
    }

    /// Time on air in whole microseconds, rounded up (what the duty-cycle ledger counts).
    public func airtimeMicroseconds(payloadBytes: Int) -> Int64 {
        // In quarter symbols, so the 4.25 stays an integer: exact, no floating-point rounding.
        let quarters = Int64(4 * preambleSymbols + 17 + 4 * payloadSymbols(payloadBytes: payloadBytes))
        let numerator = quarters * Int64(1 << spreadingFactor) * 1_000_000
        let denominator = 4 * Int64(bandwidthHz)
        return (numerator + denominator - 1) / denominator
    }

    public var description: String {
        "SF\(spreadingFactor) BW\(bandwidthHz / 1000) CR4/\(codingRate + 4) preamble \(preambleSymbols)"
    }
}

/// EU868 duty-cycle limits the mesh knows itself. Only the sub-band the mesh uses by default is built
/// in (868.0–868.6 MHz, 1 %, ERC Recommendation 70-03 annex 1 band h1.4, the LoRaWAN EU868 default
/// channels); any other frequency needs its limit configured explicitly.
public enum EU868DutyCycle {
    public static let defaultSubBand: ClosedRange<Int> = 868_000_000...868_600_000

    /// 0.01 inside 868.0–868.6 MHz, nil elsewhere (configure the limit for that sub-band yourself).
    public static func limit(forFrequencyHz frequency: Int) -> Double? {
        defaultSubBand.contains(frequency) ? 0.01 : nil
    }
}
