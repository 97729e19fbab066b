import Testing
import ConcentratorCore
import MeterProtocols
import Platform
import TestSupport
@testable import MeterSimulator

/// `meter-sim --mbus …` and `--wmbus …` arguments (Docs/meter-sim.md, "M-Bus").
@Suite struct MBusArgumentTests {
    static let library = ProfileLibrary.load(directories: [BuiltProducts.profilesDirectory])

    @Test func wiredSlaveArguments() throws {
        let a = try MBusSlaveArgument.parse("3-5:kamstrup-multical-403")
        #expect(a.primaryAddresses == 3...5 && a.count == 3 && a.idBase == 20_000_003)
        let slaves = try a.slaves(profile: Self.library.profile(id: "kamstrup-multical-403")!, telegrams: 2, seed: 1)
        #expect(slaves.map(\.primaryAddress) == [3, 4, 5])
        #expect(slaves.map(\.identity.numberText) == ["20000003", "20000004", "20000005"])
        #expect(slaves.allSatisfy { MBusManufacturer.letters($0.identity.manufacturer) == "KAM" && $0.identity.medium == 4 && $0.telegrams == 2 })
        let s = try MBusSlaveArgument.parse("secondary:2:kamstrup-multical-603:12345678")
        #expect(s.primaryAddresses == nil && s.count == 2 && s.idBase == 12_345_678)
        for bad in ["0-3:x", "1-251:x", "secondary:0:x", "1-2", "1-2:x:123", "1-2:x:1234567A"] {
            #expect(throws: SimulatorArgumentError.self, "\(bad)") { try MBusSlaveArgument.parse(bad) }
        }
        #expect(throws: SimulatorArgumentError.self) {
            try a.slaves(profile: Self.library.profile(id: "sensus-iperl")!, telegrams: 1, seed: 1)
        }
    }

    @Test func wirelessGroupArguments() throws {
        let keyText = "000102030405060708090a0b0c0d0e0f" + "cecee288"
        let g = try WirelessGroupArgument.parse("25:sensus-iperl:mode7:30:" + keyText)
        #expect(g.count == 25 && g.security == .mode7 && g.intervalSeconds == 30 && g.key?.bytes == Array(0..<16))
        let meters = try g.meters(profile: Self.library.profile(id: "sensus-iperl")!, firstID: 30_000_098, linkMode: .c1, seed: 2)
        #expect(meters.count == 25 && meters[2].identity.numberText == "30000100" && meters.allSatisfy { $0.linkMode == .c1 })
        #expect(meters.allSatisfy { (-95 ... -40).contains($0.rssiDBm) && $0.phaseSeconds <= 30 })
        #expect(try WirelessGroupArgument.parse("2:qundis-qcaloric-5:none:60").key == nil)
        // A missing or mistyped key is refused, and the key never appears in the message.
        for bad in ["2:x:mode5:60", "2:x:mode5:60:" + keyText.dropLast() + "9", "0:x:none:60", "2:x:mode9:60", "2:x:none:0"] {
            do {
                _ = try WirelessGroupArgument.parse(String(bad))
                Issue.record("accepted \(bad)")
            } catch {
                #expect(!error.description.contains("0102030405"))
            }
        }
    }
}
