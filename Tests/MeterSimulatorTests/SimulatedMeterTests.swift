import Testing
import ConcentratorCore
import MeterProtocols
import Platform
@testable import MeterSimulator

@Suite struct SimulatedMeterTests {
    let t0 = ISO8601.parse("2026-11-21T10:00:00Z")!

    func meter(_ profile: MeterProfile = TestProfiles.sdm630Like, address: UInt8 = 5) -> SimulatedMeter {
        SimulatedMeter(setup: SimulatedMeterSetup(address: address, profile: profile), seed: 42)
    }

    func read(_ m: inout SimulatedMeter, function: UInt8 = 4, start: UInt16, count: UInt16, at time: Timestamp? = nil) -> MeterAnswer {
        let pdu: ModbusRequestPDU = function == 3 ? .readHoldingRegisters(start: start, count: count)
                                                   : .readInputRegisters(start: start, count: count)
        return m.respond(to: ModbusRequest(slave: m.address, pdu: pdu), at: time ?? t0)
    }

    @Test func servedValuesAreWhatTheRegistersDecodeTo() throws {
        var m = meter()
        let answer = read(&m, start: 0, count: 0x12)
        guard case .registers(let regs) = answer.response else { Issue.record("not a register answer: \(answer.response)"); return }
        #expect(regs.count == 0x12)
        let model = m.values(at: t0)
        let specs = TestProfiles.sdm630Like.modbus!.registers.filter { $0.address < 0x12 }
        #expect(answer.values.map(\.quantity) == specs.map(\.quantity))
        for spec in specs {
            let words = regs[Int(spec.address)..<Int(spec.address) + 2]
            // Independent decoding: IEEE 754 single precision, most significant word first.
            let decoded = Double(Float(bitPattern: UInt32(words.first!) << 16 | UInt32(words.last!)))
            let served = try #require(answer.values.first { $0.quantity == spec.quantity })
            #expect(served.value == decoded)
            #expect(served.value == Double(Float(model[spec.quantity]!)))
        }
        let v1 = try #require(answer.values.first { $0.quantity == "voltage_l1" }).value
        #expect((220.0...240.0).contains(v1))
    }

    @Test func badAddressesGetExceptions() {
        var m = meter()
        func code(_ a: MeterAnswer) -> UInt8? {
            if case .exception(_, let c) = a.response { return c }
            return nil
        }
        #expect(code(read(&m, start: 0x200, count: 2)) == 2, "outside every register")
        #expect(code(read(&m, start: 0x22, count: 4)) == 2, "touches the declared gap 0x24-0x2F")
        #expect(code(read(&m, start: 0x01, count: 2)) == 2, "starts inside a two-register value")
        #expect(code(read(&m, start: 0x00, count: 3)) == 2, "ends inside a two-register value")
        #expect(code(read(&m, function: 3, start: 0, count: 2)) == 2, "no holding registers in this map")
        #expect(code(read(&m, start: 0x00, count: 81)) == 3, "more than maxRegistersPerRequest (80)")
        let write = m.respond(to: ModbusRequest(slave: 5, pdu: .writeSingleRegister(address: 0, value: 1)), at: t0)
        #expect(write.response == .exception(function: 6, code: 1))
        let coils = m.respond(to: ModbusRequest(slave: 5, pdu: .readCoils(start: 0, count: 1)), at: t0)
        #expect(coils.response == .exception(function: 1, code: 1), "no relay in this profile")
    }

    @Test func undeclaredHolesReadAsZero() {
        var m = meter()
        let answer = read(&m, start: 0x10, count: 0x14) // 0x10-0x23: power L3, hole 0x12-0x1D, power factors
        guard case .registers(let regs) = answer.response else { Issue.record("\(answer.response)"); return }
        #expect(regs[2..<14].allSatisfy { $0 == 0 })
        #expect(regs[0] != 0 || regs[1] != 0)
        #expect(answer.values.map(\.quantity) == ["active_power_l3", "power_factor_l1", "power_factor_l2", "power_factor_l3"])
    }

    @Test func integerRegistersAreScaledAndOrdered() throws {
        var m = meter(TestProfiles.relayMeter, address: 12)
        let answer = read(&m, function: 3, start: 0x10, count: 13)
        guard case .registers(let regs) = answer.response else { Issue.record("\(answer.response)"); return }
        let model = m.values(at: t0)
        // u16 in 0.1 V
        #expect(regs[0] == UInt16((model["voltage_l1"]! * 10).rounded()))
        #expect(try #require(answer.values.first { $0.quantity == "voltage_l1" }).value == Double(regs[0]) * 0.1)
        // i32 in W, least significant word first
        let watts = Int32(bitPattern: UInt32(regs[2]) << 16 | UInt32(regs[1]))
        #expect(Double(watts) == model["active_power_total"]!.rounded())
        // u32 in Wh, scale 0.001 to kWh
        let wh = UInt32(regs[3]) << 16 | UInt32(regs[4])
        #expect(Double(wh) == (model["active_energy_import"]! * 1000).rounded())
        #expect(try #require(answer.values.first { $0.quantity == "active_energy_import" }).value == Double(wh) * 0.001)
        // f64 keeps the full value
        let bits = regs[5..<9].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        #expect(Double(bitPattern: bits) == model["active_energy_import_t1"]!)
    }

    @Test func identificationRegisterHoldsTheModelCode() {
        var m = meter(TestProfiles.relayMeter, address: 12)
        #expect(read(&m, function: 3, start: 0xFC02, count: 1).response == .registers([0x70]))
    }

    @Test func aDeclaredClockIsReadAndSetWithFunction16() {
        var profile = TestProfiles.relayMeter
        profile.modbus?.clock = ModbusClockSpec(address: 400)
        var m = meter(profile, address: 12)
        // At 2026-11-21T10:00:00Z the clock reads 1795255200 s = 0x6B01_6BA0, most significant register first.
        #expect(read(&m, function: 3, start: 400, count: 2).response == .registers([0x6B01, 0x6BA0]))
        let set = m.respond(to: ModbusRequest(slave: 12, pdu: .writeMultipleRegisters(start: 400, values: [0x6B01, 0x6B28])), at: t0)
        #expect(set.response == .writeAcknowledged(address: 400, value: 2))
        #expect(m.clockOffsetMilliseconds == -120_000, "set two minutes slow")
        #expect(read(&m, function: 3, start: 400, count: 2, at: t0.adding(seconds: 60)).response == .registers([0x6B01, 0x6B64]))
        let elsewhere = m.respond(to: ModbusRequest(slave: 12, pdu: .writeMultipleRegisters(start: 402, values: [0, 0])), at: t0)
        #expect(elsewhere.response == .exception(function: 16, code: 2))
        let half = m.respond(to: ModbusRequest(slave: 12, pdu: .writeMultipleRegisters(start: 400, values: [0x6B01])), at: t0)
        #expect(half.response == .exception(function: 16, code: 2))
        var noClock = meter(TestProfiles.relayMeter, address: 12)
        let refused = noClock.respond(to: ModbusRequest(slave: 12, pdu: .writeMultipleRegisters(start: 400, values: [0, 0])), at: t0)
        #expect(refused.response == .exception(function: 16, code: 1))
    }

    @Test func relayCutsPowerAndFreezesEnergy() {
        var m = meter(TestProfiles.relayMeter, address: 12)
        let coil = ModbusRequest(slave: 12, pdu: .readCoils(start: 0, count: 1))
        #expect(m.respond(to: coil, at: t0).response == .coils([true]))
        let off = m.respond(to: ModbusRequest(slave: 12, pdu: .writeSingleCoil(address: 0, on: false)), at: t0)
        #expect(off.response == .writeAcknowledged(address: 0, value: 0))
        #expect(m.respond(to: coil, at: t0).response == .coils([false]))
        let later = t0.adding(seconds: 7200)
        let frozen = m.values(at: t0)["active_energy_import"]!
        #expect(m.values(at: later)["active_energy_import"]! == frozen)
        #expect(m.values(at: later)["active_power_total"]! == 0)
        #expect(m.values(at: later)["current_l1"]! == 0)
        #expect((220.0...240.0).contains(m.values(at: later)["voltage_l1"]!), "the supply side keeps its voltage")
        _ = m.respond(to: ModbusRequest(slave: 12, pdu: .writeSingleCoil(address: 0, on: true)), at: later)
        #expect(m.values(at: later)["active_energy_import"]! == frozen, "no jump when the relay closes")
        #expect(m.values(at: later.adding(seconds: 600))["active_energy_import"]! > frozen)
        #expect(m.values(at: later)["active_power_total"]! > 0)
        let wrongCoil = m.respond(to: ModbusRequest(slave: 12, pdu: .writeSingleCoil(address: 1, on: false)), at: later)
        #expect(wrongCoil.response == .exception(function: 5, code: 2))
    }

    @Test func turnaroundIsPerMeterWithinTheRange() {
        let turnarounds = (1...64).map { meter(address: UInt8($0)).turnaroundMilliseconds }
        #expect(turnarounds.allSatisfy { (20...60).contains($0) })
        #expect(Set(turnarounds).count > 10)
        #expect(meter(address: 7).turnaroundMilliseconds == meter(address: 7).turnaroundMilliseconds)
        let fixed = SimulatedMeter(setup: SimulatedMeterSetup(address: 1, profile: TestProfiles.sdm630Like, turnaroundMilliseconds: 30...30), seed: 9)
        #expect(fixed.turnaroundMilliseconds == 30)
    }
}
