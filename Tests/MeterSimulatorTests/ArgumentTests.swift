import Testing
import ConcentratorCore
import MeterSimulator

@Suite struct ArgumentTests {
    @Test func faultsParseAndPrintBack() throws {
        for text in ["none", "silence", "bad-crc", "exception:2", "garbage", "slow:300"] {
            #expect(try MeterFault.parse(text).description == text)
        }
        #expect(try MeterFault.parse("exception:11") == .exception(11))
        #expect(throws: SimulatorArgumentError.self) { try MeterFault.parse("exception:0") }
        #expect(throws: SimulatorArgumentError.self) { try MeterFault.parse("slow:x") }
        #expect(throws: SimulatorArgumentError.self) { try MeterFault.parse("loud") }
        #expect(try FaultAssignment.parse("7=silence") == .meter(.slave(7), .silence))
        #expect(try FaultAssignment.parse("*=bad-crc") == .meter(.all, .badCRC))
        #expect(try FaultAssignment.parse("vanish:2.5") == .vanish(seconds: 2.5))
        #expect(throws: SimulatorArgumentError.self) { try FaultAssignment.parse("248=silence") }
        #expect(throws: SimulatorArgumentError.self) { try FaultAssignment.parse("vanish:0") }
        do {
            _ = try FaultAssignment.parse("7:silence")
            Issue.record("accepted 7:silence")
        } catch {
            #expect(error.description.contains("ADDR=FAULT"))
        }
    }

    @Test func faultTableAppliesDefaultsAndOverrides() {
        var table = FaultTable()
        table.set(.silence, for: .slave(7))
        table.set(.badCRC, for: .slave(9))
        #expect(table.fault(for: 7) == .silence)
        #expect(table.fault(for: 8) == .none)
        #expect(table.summary == "7:silence,9:bad-crc")
        table.set(.garbage, for: .all)
        #expect(table.fault(for: 7) == .garbage, "* replaces per-meter faults")
        table.set(.none, for: .slave(3))
        #expect(table.fault(for: 3) == .none)
        #expect(table.summary == "*:garbage,3:none")
        table.set(.none, for: .all)
        #expect(table.summary == "none")
    }

    @Test func controlCommandsParse() throws {
        #expect(try ControlCommand.parse("fault 7 silence") == .fault(.slave(7), .silence))
        #expect(try ControlCommand.parse("  fault * none\r") == .fault(.all, .none))
        #expect(try ControlCommand.parse("vanish 5") == .vanish(seconds: 5))
        #expect(try ControlCommand.parse("status") == .status)
        #expect(try ControlCommand.parse("coil 12") == .coil(12, set: nil))
        #expect(try ControlCommand.parse("coil 12 off") == .coil(12, set: false))
        #expect(try ControlCommand.parse("clock 12") == .clock(12, offsetSeconds: nil))
        #expect(try ControlCommand.parse("clock 12 -120") == .clock(12, offsetSeconds: -120))
        #expect(try ControlCommand.parse("set 1 voltage_l1 260.5") == .setValue(1, "voltage_l1", 260.5))
        #expect(try ControlCommand.parse("set 1 voltage_l1 auto") == .setValue(1, "voltage_l1", nil))
        #expect(try ControlCommand.parse("status-bits 2 0x21") == .statusBits(2, 0x21))
        #expect(try ControlCommand.parse("status-bits 2 33") == .statusBits(2, 33))
        for bad in ["", "fault 7", "vanish", "vanish -1", "coil * on", "coil 3 maybe", "status now", "reboot", "clock * 5", "clock 3 soon",
                    "clock 3 1.5", "set 1 voltage_l1", "set * voltage_l1 3", "set 1 voltage_l1 high", "set 1 voltage_l1 nan",
                    "status-bits 1", "status-bits 1 0xZZ", "status-bits 1 4294967296", "status-bits * 1"] {
            #expect(throws: SimulatorArgumentError.self, "\(bad)") { try ControlCommand.parse(bad) }
        }
    }

    @Test func meterRangesExpand() throws {
        let ranges = try ["1-32:eastron-sdm630", "33-64:abb-b23"].map { try MeterRangeArgument.parse($0) }
        let all = try MeterRangeArgument.expand(ranges)
        #expect(all.count == 64)
        #expect(all.first! == (1, "eastron-sdm630"))
        #expect(all.last! == (64, "abb-b23"))
        #expect(try MeterRangeArgument.parse("5:x") == MeterRangeArgument(addresses: 5...5, profileID: "x"))
        for bad in ["1-32", "0-3:x", "5-3:x", "1-248:x", "a-b:x", "3:"] {
            #expect(throws: SimulatorArgumentError.self, "\(bad)") { try MeterRangeArgument.parse(bad) }
        }
        #expect(throws: SimulatorArgumentError.self) {
            try MeterRangeArgument.expand([MeterRangeArgument(addresses: 1...65, profileID: "x")])
        }
        #expect(throws: SimulatorArgumentError.self) {
            try MeterRangeArgument.expand([MeterRangeArgument(addresses: 1...3, profileID: "x"), MeterRangeArgument(addresses: 3...4, profileID: "y")])
        }
        #expect(try TurnaroundArgument.parse("20-60") == 20...60)
        #expect(try TurnaroundArgument.parse("35") == 35...35)
        #expect(throws: SimulatorArgumentError.self) { try TurnaroundArgument.parse("60-20") }
    }

    @Test func servedRecordIsExactJSON() throws {
        let v = Double(Float(229.8))
        let record = ServedRecord(time: ISO8601.parse("2026-11-21T10:00:00.123Z")!, slave: 5, function: 4, start: 0, count: 2,
                                  values: [ServedValue(quantity: "voltage_l1", value: v)])
        let json = try JSONParser.parse(record.jsonLine)
        #expect(json["t"]?.stringValue == "2026-11-21T10:00:00.123Z")
        #expect(json["t_ms"]?.intValue == 1_795_255_200_123)
        #expect(json["slave"]?.intValue == 5)
        #expect(json["values"]?["voltage_l1"]?.doubleValue == v)
        #expect(json["fault"] == nil)
        let fault = ServedRecord(time: Timestamp(seconds: 0), slave: 9, function: 3, fault: "bad-crc")
        #expect(fault.jsonLine == #"{"t":"1970-01-01T00:00:00Z","t_ms":0,"slave":9,"function":3,"fault":"bad-crc"}"#)
    }
}
