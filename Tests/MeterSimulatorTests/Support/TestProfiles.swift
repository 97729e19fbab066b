import ConcentratorCore

/// Profiles built in Swift for these tests (the JSON profiles and their loader live elsewhere).
enum TestProfiles {
    /// An SDM630-like map. Input-register addresses (function 4, IEEE 754 f32, big-endian) follow
    /// "Eastron SDM630 Modbus Smart Meter Modbus Protocol Implementation V1.5", table of input
    /// registers: 30001 L1 voltage (0x0000), 30003 L2, 30005 L3, 30007-30011 currents (0x0006-0x000A),
    /// 30013-30017 active power (0x000C-0x0010), 30031-30035 power factor (0x001E-0x0022),
    /// 30053 total power (0x0034), 30071 frequency (0x0046), 30073 import kWh (0x0048),
    /// 30075 export kWh (0x004A).
    static let sdm630Like: MeterProfile = {
        func f32(_ q: String, _ a: UInt16, _ unit: MeasurementUnit) -> ModbusRegisterSpec {
            ModbusRegisterSpec(quantity: QuantityID(q), function: .readInputRegisters, address: a, type: .f32, unit: unit)
        }
        let registers = [
            f32("voltage_l1", 0x00, .volt), f32("voltage_l2", 0x02, .volt), f32("voltage_l3", 0x04, .volt),
            f32("current_l1", 0x06, .ampere), f32("current_l2", 0x08, .ampere), f32("current_l3", 0x0A, .ampere),
            f32("active_power_l1", 0x0C, .watt), f32("active_power_l2", 0x0E, .watt), f32("active_power_l3", 0x10, .watt),
            f32("power_factor_l1", 0x1E, .none), f32("power_factor_l2", 0x20, .none), f32("power_factor_l3", 0x22, .none),
            f32("active_power_total", 0x34, .watt), f32("frequency", 0x46, .hertz),
            f32("active_energy_import", 0x48, .kilowattHour), f32("active_energy_export", 0x4A, .kilowattHour),
        ]
        return MeterProfile(id: "test-sdm630", name: "SDM630-like test map", manufacturer: "test",
                            source: "Eastron SDM630 Modbus Protocol V1.5 (addresses only)", protocolKind: .modbus,
                            modbus: ModbusRegisterMap(maxRegistersPerRequest: 80,
                                                      gaps: [ModbusRegisterGap(function: .readInputRegisters, first: 0x24, last: 0x2F)],
                                                      registers: registers))
    }()

    /// A meter with a breaking relay on coil 0 and integer registers (holding registers, function 3):
    /// energy as u32 in Wh (scale 0.001 to kWh), voltage as u16 in 0.1 V, power as i32 in W.
    static let relayMeter = MeterProfile(
        id: "test-relay", name: "relay test meter", manufacturer: "test", source: "test", protocolKind: .modbus,
        modbus: ModbusRegisterMap(registers: [
            ModbusRegisterSpec(quantity: "voltage_l1", function: .readHoldingRegisters, address: 0x10, type: .u16, scale: 0.1, unit: .volt),
            ModbusRegisterSpec(quantity: "active_power_total", function: .readHoldingRegisters, address: 0x11, type: .i32,
                               wordOrder: .little, unit: .watt),
            ModbusRegisterSpec(quantity: "active_energy_import", function: .readHoldingRegisters, address: 0x13, type: .u32,
                               scale: 0.001, unit: .kilowattHour),
            ModbusRegisterSpec(quantity: "active_energy_import_t1", function: .readHoldingRegisters, address: 0x15, type: .f64,
                               unit: .kilowattHour),
            ModbusRegisterSpec(quantity: "active_energy_import_t2", function: .readHoldingRegisters, address: 0x19, type: .f64,
                               unit: .kilowattHour),
        ], identification: ModbusIdentification(function: .readHoldingRegisters, address: 0xFC02, type: .u16, expectedValues: [0x70]),
           relay: ModbusRelaySpec(coil: 0)))
}
