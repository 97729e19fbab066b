import ConcentratorCore
import Foundation
@testable import Wire

/// Fixed keys and data shared by the tests and the documented test vectors (Docs/mqtt-api.md).
enum Fixtures {
    static func bytes(from start: UInt8, count: Int = 32) -> [UInt8] { (0..<count).map { start &+ UInt8($0) } }

    /// Ed25519 seed 0x10 0x11 … 0x2f.
    static let deviceSigning = try! SigningPrivateKey(seed: bytes(from: 0x10))
    /// X25519 private key 0x40 0x41 … 0x5f.
    static let headEndSealing = try! AgreementPrivateKey(rawRepresentation: bytes(from: 0x40))
    /// Ed25519 seed 0x70 0x71 … 0x8f.
    static let headEndAck = try! SigningPrivateKey(seed: bytes(from: 0x70))
    static let deviceID = "gw-0001"

    static let hour = ISO8601.parse("2026-11-21T10:00:00Z")!
    static let hourly = IntervalSchedule(minutes: 60)

    static var sealer: BatchSealer {
        try! BatchSealer(deviceID: deviceID, signingKey: deviceSigning, headEndSealingKey: headEndSealing.publicKey)
    }

    static var opener: BatchOpener {
        BatchOpener(sealingKeys: [headEndSealing], devices: RegisteredDevices([deviceID: [deviceSigning.publicKey]]))
    }

    /// The snapshots of the documented interval vector: three meters, one hour.
    static let vectorSnapshots: [MeterSnapshot] = [
        MeterSnapshot(meter: "m-1", intervalStart: hour, gatewayTime: hour.adding(milliseconds: 2500), values: [
            QuantityValue(quantity: "voltage_l1", value: Double(Float(230.1))),
            QuantityValue(quantity: "current_l1", value: 5.123),
            QuantityValue(quantity: "active_power_total", value: 1178),
            QuantityValue(quantity: "active_energy_import", value: 12345.67),
        ]),
        MeterSnapshot(meter: "m-2", intervalStart: hour, gatewayTime: hour.adding(milliseconds: 2640),
                      meterTime: hour.adding(seconds: 1), values: [
            QuantityValue(quantity: "voltage_l1", value: Double(Float(229.8))),
            QuantityValue(quantity: "current_l1", error: .modbusException(2)),
            QuantityValue(quantity: "active_power_total", value: 0),
            QuantityValue(quantity: "active_energy_import", value: 802.5),
        ]),
        MeterSnapshot(meter: "m-3", intervalStart: hour, gatewayTime: hour.adding(milliseconds: 5000), clockUnsynced: true,
                      values: ["voltage_l1", "current_l1", "active_power_total", "active_energy_import"].map {
                          QuantityValue(quantity: QuantityID($0), error: .noResponse)
                      }),
    ]

    /// The events of the documented event vector.
    static let vectorEvents: [GatewayEvent] = [
        GatewayEvent(time: hour.adding(seconds: 125), kind: .meterOffline, severity: .warning, bus: "bus1", meter: "m-3",
                     message: "no usable answer: no response"),
        GatewayEvent(time: hour.adding(seconds: 126), kind: .meterOffline, severity: .warning, bus: "bus1", meter: "m-4",
                     message: "no usable answer: no response"),
        GatewayEvent(time: hour.adding(seconds: 130), kind: .portUnavailable, severity: .error, bus: "bus1",
                     message: "serial port /dev/ttyRS485-1: open: No such device"),
    ]

    /// A deterministic generator for robustness tests.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
    }

    /// Many meters over several intervals with awkward values: every representation, errors,
    /// meter times, unsynced clocks, two layouts, and doubles that only raw bits can carry.
    static func awkwardSnapshots(meters: Int = 12, intervals: Int = 3, seed: UInt64 = 7) -> [MeterSnapshot] {
        var random = Random(state: seed)
        let odd: [Double] = [-0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e300, .pi,
                             Double(bitPattern: 0x7FF8_0000_0000_0001)]
        var out: [MeterSnapshot] = []
        for h in 0..<intervals {
            let start = hour.adding(seconds: Int64(h) * 3600)
            for m in 0..<meters {
                var values: [QuantityValue] = [
                    QuantityValue(quantity: "voltage_l1", value: Double(Float(220 + Double(random.below(200)) / 10))),
                    QuantityValue(quantity: "current_l1", value: Double(random.below(40_000)) * 0.001),
                    QuantityValue(quantity: "active_energy_import", value: Double(100_000 + h * 50 + m * 1000 + random.below(50)) / 100),
                    QuantityValue(quantity: "power_factor_total", value: Double(Float(Double(random.below(1000)) / 997))),
                ]
                if m % 4 == 1 { values[1] = QuantityValue(quantity: "current_l1", error: .modbusException(UInt8(m))) }
                if m % 5 == 2 { values[3] = QuantityValue(quantity: "power_factor_total", value: odd[(m + h) % odd.count]) }
                if m % 3 == 0 { values.append(QuantityValue(quantity: "meter_uptime", value: Double(h * 3600 + m))) }
                out.append(MeterSnapshot(meter: MeterID("meter-\(m)"), intervalStart: start,
                                         gatewayTime: start.adding(milliseconds: Int64(1000 + m * 137 + random.below(90))),
                                         meterTime: m % 2 == 0 ? start.adding(seconds: Int64(m)) : nil,
                                         clockUnsynced: m == 7, values: values))
            }
        }
        return out
    }
}

/// Whether two snapshot lists are identical, comparing doubles by bit pattern (NaN included).
func identical(_ a: [MeterSnapshot], _ b: [MeterSnapshot]) -> Bool {
    guard a.count == b.count else { return false }
    for (x, y) in zip(a, b) {
        guard x.meter == y.meter, x.intervalStart == y.intervalStart, x.gatewayTime == y.gatewayTime,
              x.meterTime == y.meterTime, x.clockUnsynced == y.clockUnsynced, x.values.count == y.values.count else { return false }
        for (v, w) in zip(x.values, y.values) {
            guard v.quantity == w.quantity, v.error == w.error, v.value?.bitPattern == w.value?.bitPattern else { return false }
        }
    }
    return true
}
