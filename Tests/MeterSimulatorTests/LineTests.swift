import Foundation
import Testing
import ConcentratorCore
import MeterProtocols
import MeterSimulator
import Platform
import TestSupport

/// The simulator on real PTYs with real timing, driven by a test client as a Modbus master would.
@Suite(.serialized) struct LineTests {
    @Test func answersDecodeAndEqualTheServedLog() throws {
        let fixture = try BusFixture(addresses: [5, 6, 7])
        let client = try fixture.client()
        let regs = try client.readRegisters(slave: 5, start: 0, count: 0x12)
        let energy = try client.readRegisters(slave: 6, start: 0x46, count: 6)
        let records = fixture.records
        #expect(records.count == 2)
        let first = try #require(records.first), second = try #require(records.last)
        #expect(first["slave"]?.intValue == 5)
        #expect(first["function"]?.intValue == 4)
        #expect(first["start"]?.intValue == 0)
        #expect(first["count"]?.intValue == 0x12)
        #expect(first["t"]?.stringValue.flatMap(ISO8601.parse) != nil)
        func f32(_ r: [UInt16], _ i: Int) -> Double { Double(Float(bitPattern: UInt32(r[i]) << 16 | UInt32(r[i + 1]))) }
        let names = ["voltage_l1", "voltage_l2", "voltage_l3", "current_l1", "current_l2", "current_l3",
                     "active_power_l1", "active_power_l2", "active_power_l3"]
        #expect(first["values"]?.members?.map(\.key) == names)
        for (i, name) in names.enumerated() {
            #expect(first["values"]?[name]?.doubleValue == f32(regs, 2 * i), "\(name)")
        }
        #expect(second["slave"]?.intValue == 6)
        #expect(second["values"]?["frequency"]?.doubleValue == f32(energy, 0))
        #expect(second["values"]?["active_energy_import"]?.doubleValue == f32(energy, 2))
        #expect(second["values"]?["active_energy_export"]?.doubleValue == f32(energy, 4))
        #expect((49.9...50.1).contains(f32(energy, 0)))
    }

    @Test func badAddressGetsAnException() throws {
        let fixture = try BusFixture(addresses: [5])
        let (answer, _) = try fixture.client().transact(ModbusRequest(slave: 5, pdu: .readInputRegisters(start: 0x200, count: 2)))
        #expect(answer == .exception(function: 4, code: 2))
        #expect(fixture.records.last?["exception"]?.intValue == 2)
        #expect(fixture.records.last?["values"] == nil)
    }

    @Test func absentSlaveStaysSilent() throws {
        let fixture = try BusFixture(addresses: [5])
        let client = try fixture.client()
        let silent = client.exchange(ModbusRTUFrame.encode(ModbusRequest(slave: 99, pdu: .readInputRegisters(start: 0, count: 2))),
                                     timeout: .milliseconds(300))
        #expect(silent.bytes.isEmpty)
        #expect(fixture.records.isEmpty)
        // The line is free again right after: the present meter answers.
        #expect(try client.readRegisters(slave: 5, start: 0, count: 2).count == 2)
    }

    @Test func faultsThroughTheControlChannel() throws {
        let fixture = try BusFixture(addresses: [5, 6], turnaround: 25...25)
        let client = try fixture.client()
        let request = ModbusRequest(slave: 5, pdu: .readInputRegisters(start: 0, count: 6))
        let frame = ModbusRTUFrame.encode(request)
        let expectedLength = ModbusRTUFrame.expectedResponseLength(to: request)

        #expect(try fixture.control("fault 5 silence") == "ok fault 5 silence")
        #expect(client.exchange(frame, timeout: .milliseconds(300)).bytes.isEmpty)
        #expect(try client.readRegisters(slave: 6, start: 0, count: 2).count == 2, "other meters are unaffected")

        #expect(try fixture.control("fault 5 bad-crc") == "ok fault 5 bad-crc")
        let badCRC = client.exchange(frame, expected: expectedLength)
        #expect(badCRC.bytes.count == expectedLength)
        #expect(throws: ModbusFrameError.self) { try ModbusRTUFrame.decodeResponse(badCRC.bytes, to: request) }
        #expect(!ModbusCRC.isValid(badCRC.bytes))

        #expect(try fixture.control("fault 5 exception:6") == "ok fault 5 exception:6")
        #expect(try client.transact(request).0 == .exception(function: 4, code: 6))

        #expect(try fixture.control("fault 5 garbage") == "ok fault 5 garbage")
        let garbage = client.exchange(frame, expected: expectedLength)
        #expect(garbage.bytes.count == expectedLength)
        #expect(!ModbusCRC.isValid(garbage.bytes))

        #expect(try fixture.control("fault 5 slow:150") == "ok fault 5 slow:150")
        let (slowAnswer, slow) = try client.transact(request)
        guard case .registers = slowAnswer else { Issue.record("slow meter gave \(slowAnswer)"); return }
        let wire = LineSettings().wireMicroseconds(characters: frame.count + expectedLength) / 1000
        #expect(slow.elapsedMilliseconds >= 25 + 150 + wire)

        #expect(try fixture.control("fault * none") == "ok fault * none")
        guard case .registers = try client.transact(request).0 else { Issue.record("still faulty"); return }

        let faults = fixture.records.compactMap { $0["fault"]?.stringValue }
        #expect(faults == ["silence", "bad-crc", "exception:6", "garbage", "slow:150"])
        let slowRecord = try #require(fixture.records.first { $0["fault"]?.stringValue == "slow:150" })
        #expect(slowRecord["values"]?["voltage_l1"] != nil, "a slow answer is a valid answer")
        #expect(fixture.records.first { $0["fault"]?.stringValue == "bad-crc" }?["values"] == nil)
    }

    @Test func faultsFromTheStart() throws {
        let fixture = try BusFixture(addresses: [5, 6], faults: [.meter(.slave(5), .badCRC), .meter(.slave(6), .exception(4))])
        let client = try fixture.client()
        let request = ModbusRequest(slave: 5, pdu: .readInputRegisters(start: 0, count: 2))
        do {
            _ = try client.transact(request)
            Issue.record("a bad-crc meter gave a valid answer")
        } catch let error as ModbusFrameError {
            guard case .badCRC = error else { Issue.record("expected a CRC error, got \(error)"); return }
        }
        #expect(try client.transact(ModbusRequest(slave: 6, pdu: .readInputRegisters(start: 0, count: 2))).0
            == .exception(function: 4, code: 4))
        #expect(throws: SimulatorError.noMeter(address: 9)) {
            _ = try SimulatedBus(configuration: SimulatorConfiguration(meters: [], faults: [.meter(.slave(9), .silence)]))
        }
    }

    @Test func controlChannelAnswersEveryLine() throws {
        let fixture = try BusFixture(addresses: [5, 12])
        #expect(try fixture.control("status").hasPrefix("ok line=up pty=/dev/pts/"))
        #expect(try fixture.control("status").contains("meters=2 answered=0 faults=none open-relays=none"))
        #expect(try fixture.control("reboot").hasPrefix("error invalid command \"reboot\""))
        #expect(try fixture.control("fault 99 silence") == "error no meter at address 99 on this line")
        #expect(try fixture.control("coil 5") == "error the meter at address 5 has no relay")
        #expect(try fixture.control("fault 5 exception:0").hasPrefix("error invalid exception code"))
    }

    @Test func relayCoilOverTheLine() throws {
        let fixture = try BusFixture(addresses: [12], profile: TestProfiles.relayMeter)
        let client = try fixture.client()
        func power() throws -> Int32 {
            let r = try client.readRegisters(slave: 12, function: 3, start: 0x11, count: 2)
            return Int32(bitPattern: UInt32(r[1]) << 16 | UInt32(r[0]))
        }
        #expect(try power() > 0)
        let off = ModbusRequest(slave: 12, pdu: .writeSingleCoil(address: 0, on: false))
        #expect(try client.transact(off).0 == .writeAcknowledged(address: 0, value: 0))
        #expect(try client.transact(ModbusRequest(slave: 12, pdu: .readCoils(start: 0, count: 1))).0 == .coils([false]))
        #expect(try power() == 0)
        #expect(try fixture.control("coil 12") == "ok coil 12 off")
        #expect(try fixture.control("status").contains("open-relays=12"))
        #expect(try fixture.control("coil 12 on") == "ok coil 12 on")
        #expect(try power() > 0)
        let write = try #require(fixture.records.first { $0["function"]?.intValue == 5 })
        #expect(write["on"]?.boolValue == false)
        #expect(write["start"]?.intValue == 0)
    }

    @Test func sixtyFourSlavesShareOneLine() throws {
        let line = LineSettings(baud: 115_200)
        let fixture = try BusFixture(addresses: (1...64).map { UInt8($0) }, turnaround: 1...3, line: line)
        let client = try fixture.client()
        var voltages: [Double] = []
        for slave in UInt8(1)...64 {
            let r = try client.readRegisters(slave: slave, start: 0, count: 2)
            voltages.append(Double(Float(bitPattern: UInt32(r[0]) << 16 | UInt32(r[1]))))
        }
        #expect(voltages.count == 64)
        #expect(voltages.allSatisfy { (220.0...240.0).contains($0) })
        #expect(Set(fixture.records.compactMap { $0["slave"]?.intValue }) == Set(1...64))
        #expect(try fixture.control("status").contains("meters=64 answered=64"))
    }

    @Test func energyGrowsAcrossAcceleratedTime() throws {
        // Two simulated hours per real second.
        let clock = AcceleratedClock(origin: ISO8601.parse("2026-11-21T00:00:00Z")!, rate: 7200)
        let fixture = try BusFixture(addresses: [3], turnaround: 5...5, clock: clock)
        let client = try fixture.client()
        var readings: [Double] = []
        for _ in 0..<6 {
            let r = try client.readRegisters(slave: 3, start: 0x48, count: 2)
            readings.append(Double(Float(bitPattern: UInt32(r[0]) << 16 | UInt32(r[1]))))
            Thread.sleep(forTimeInterval: 0.25)
        }
        for (a, b) in zip(readings, readings.dropFirst()) { #expect(b > a, "\(readings)") }
    }

    @Test func nightPowerIsBelowDayPowerOverTheLine() throws {
        let clock = ManualClock(ISO8601.parse("2026-11-21T03:00:00Z")!)
        let fixture = try BusFixture(addresses: [1, 2, 3, 4], turnaround: 5...5, clock: clock)
        let client = try fixture.client()
        func totals() throws -> [Float] {
            try (UInt8(1)...4).map { s in
                let r = try client.readRegisters(slave: s, start: 0x34, count: 2)
                return Float(bitPattern: UInt32(r[0]) << 16 | UInt32(r[1]))
            }
        }
        let night = try totals()
        clock.set(ISO8601.parse("2026-11-21T19:00:00Z")!)
        let evening = try totals()
        for (n, e) in zip(night, evening) { #expect(n < e, "night \(night) evening \(evening)") }
    }
}
