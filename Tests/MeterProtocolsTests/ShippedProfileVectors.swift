/// Register words the shipped profiles are tested with, one row per quantity of each profile.
///
/// No vendor document prints a complete response frame for these meters, so the words are
/// computed by hand from the value each row expects, following the profile's source document:
/// - floats are IEEE 754-2008 binary32 (binary64 for "f64") bit patterns, shown in the comment
///   (e.g. 230.0 V = 0x43660000, sent as registers 0x4366 0x0000 by Eastron: "most significant
///   register first");
/// - integers are two's complement, split into registers in the profile's word order (Carlo
///   Gavazzi INT32: least significant word first) and scaled by the documented resolution
///   (ABB: 0.1 V, 0.01 A, 0.01 W, 0.01 kWh; Carlo Gavazzi: Volt*10, Ampere*1000, Watt*10, kWh*10).
/// The expected value is the decimal the row was built from, in the quantity's catalog unit.
struct Row: Sendable {
    let quantity: String
    let words: [UInt16]
    let value: Double
    let unit: String

    init(_ quantity: String, _ words: [UInt16], _ value: Double, _ unit: String) {
        self.quantity = quantity
        self.words = words
        self.value = value
        self.unit = unit
    }
}

enum ShippedProfileVectors {
    static let sdm120: [Row] = [
        Row("voltage_l1", [0x4366, 0x0000], 230.0, "V"), // binary32 0x43660000
        Row("current_l1", [0x40B0, 0x0000], 5.5, "A"), // binary32 0x40B00000
        Row("active_power_total", [0x44E4, 0xC800], 1830.25, "W"), // binary32 0x44E4C800
        Row("apparent_power_total", [0x458C, 0x9800], 4499.0, "VA"), // binary32 0x458C9800
        Row("reactive_power_total", [0x4374, 0x4000], 244.25, "var"), // binary32 0x43744000
        Row("power_factor_total", [0x3F70, 0x0000], 0.9375, ""), // binary32 0x3F700000
        Row("frequency", [0x4247, 0xE000], 49.96875, "Hz"), // binary32 0x4247E000
        Row("active_energy_import", [0x4640, 0xE600], 12345.5, "kWh"), // binary32 0x4640E600
        Row("active_energy_export", [0x4429, 0x9000], 678.25, "kWh"), // binary32 0x44299000
        Row("reactive_energy_import", [0x4512, 0x9C00], 2345.75, "kvarh"), // binary32 0x45129C00
        Row("reactive_energy_export", [0x42F7, 0x0000], 123.5, "kvarh"), // binary32 0x42F70000
        Row("active_power_demand", [0x44BB, 0x9000], 1500.5, "W"), // binary32 0x44BB9000
        Row("active_energy_total", [0x464B, 0x7F00], 13023.75, "kWh"), // binary32 0x464B7F00
        Row("reactive_energy_total", [0x451A, 0x5400], 2469.25, "kvarh"), // binary32 0x451A5400
    ]

    static let sdm630: [Row] = [
        Row("voltage_l1", [0x4366, 0x0000], 230.0, "V"), // binary32 0x43660000
        Row("voltage_l2", [0x4367, 0x8000], 231.5, "V"), // binary32 0x43678000
        Row("voltage_l3", [0x4365, 0x4000], 229.25, "V"), // binary32 0x43654000
        Row("current_l1", [0x40B0, 0x0000], 5.5, "A"), // binary32 0x40B00000
        Row("current_l2", [0x40C8, 0x0000], 6.25, "A"), // binary32 0x40C80000
        Row("current_l3", [0x40F8, 0x0000], 7.75, "A"), // binary32 0x40F80000
        Row("active_power_l1", [0x4496, 0x1000], 1200.5, "W"), // binary32 0x44961000
        Row("active_power_l2", [0xC3AF, 0x2000], -350.25, "W"), // binary32 0xC3AF2000
        Row("active_power_l3", [0x4475, 0x0000], 980.0, "W"), // binary32 0x44750000
        Row("apparent_power_l1", [0x449E, 0x2000], 1265.0, "VA"), // binary32 0x449E2000
        Row("apparent_power_l2", [0x44B4, 0xDC00], 1446.875, "VA"), // binary32 0x44B4DC00
        Row("apparent_power_l3", [0x44DF, 0x6400], 1787.125, "VA"), // binary32 0x44DF6400
        Row("reactive_power_l1", [0xC2F1, 0x0000], -120.5, "var"), // binary32 0xC2F10000
        Row("reactive_power_l2", [0x4280, 0x0000], 64.0, "var"), // binary32 0x42800000
        Row("reactive_power_l3", [0x4396, 0x6000], 300.75, "var"), // binary32 0x43966000
        Row("power_factor_l1", [0x3F78, 0x0000], 0.96875, ""), // binary32 0x3F780000
        Row("power_factor_l2", [0xBF00, 0x0000], -0.5, ""), // binary32 0xBF000000
        Row("power_factor_l3", [0x3F60, 0x0000], 0.875, ""), // binary32 0x3F600000
        Row("active_power_total", [0x44E4, 0xC800], 1830.25, "W"), // binary32 0x44E4C800
        Row("apparent_power_total", [0x458C, 0x9800], 4499.0, "VA"), // binary32 0x458C9800
        Row("reactive_power_total", [0x4374, 0x4000], 244.25, "var"), // binary32 0x43744000
        Row("power_factor_total", [0x3F70, 0x0000], 0.9375, ""), // binary32 0x3F700000
        Row("frequency", [0x4247, 0xE000], 49.96875, "Hz"), // binary32 0x4247E000
        Row("active_energy_import", [0x4640, 0xE600], 12345.5, "kWh"), // binary32 0x4640E600
        Row("active_energy_export", [0x4429, 0x9000], 678.25, "kWh"), // binary32 0x44299000
        Row("reactive_energy_import", [0x4512, 0x9C00], 2345.75, "kvarh"), // binary32 0x45129C00
        Row("reactive_energy_export", [0x42F7, 0x0000], 123.5, "kvarh"), // binary32 0x42F70000
        Row("active_power_demand", [0x44BB, 0x9000], 1500.5, "W"), // binary32 0x44BB9000
        Row("voltage_l1_l2", [0x43C8, 0x4000], 400.5, "V"), // binary32 0x43C84000
        Row("voltage_l2_l3", [0x43C7, 0xE000], 399.75, "V"), // binary32 0x43C7E000
        Row("voltage_l3_l1", [0x43C8, 0xA000], 401.25, "V"), // binary32 0x43C8A000
        Row("current_neutral", [0x3F90, 0x0000], 1.125, "A"), // binary32 0x3F900000
        Row("thd_voltage_l1", [0x4020, 0x0000], 2.5, "%"), // binary32 0x40200000
        Row("thd_voltage_l2", [0x4050, 0x0000], 3.25, "%"), // binary32 0x40500000
        Row("thd_voltage_l3", [0x3FE0, 0x0000], 1.75, "%"), // binary32 0x3FE00000
        Row("active_energy_total", [0x464B, 0x7F00], 13023.75, "kWh"), // binary32 0x464B7F00
        Row("reactive_energy_total", [0x451A, 0x5400], 2469.25, "kvarh"), // binary32 0x451A5400
        Row("active_energy_import_l1", [0x457A, 0x0800], 4000.5, "kWh"), // binary32 0x457A0800
        Row("active_energy_import_l2", [0x4580, 0x2200], 4100.25, "kWh"), // binary32 0x45802200
        Row("active_energy_import_l3", [0x4584, 0xA600], 4244.75, "kWh"), // binary32 0x4584A600
        Row("active_energy_export_l1", [0x4348, 0x0000], 200.0, "kWh"), // binary32 0x43480000
        Row("active_energy_export_l2", [0x4362, 0x8000], 226.5, "kWh"), // binary32 0x43628000
        Row("active_energy_export_l3", [0x437B, 0xC000], 251.75, "kWh"), // binary32 0x437BC000
    ]

    static let abbB23: [Row] = [
        Row("active_energy_import", [0x0000, 0x0000, 0x075B, 0xCD15], 1234567.89, "kWh"), // u64 123456789 × 0.01
        Row("active_energy_export", [0x0000, 0x0000, 0x0000, 0x11D7], 45.67, "kWh"), // u64 4567 × 0.01
        Row("reactive_energy_import", [0x0000, 0x0000, 0x0001, 0x81CD], 987.65, "kvarh"), // u64 98765 × 0.01
        Row("reactive_energy_export", [0x0000, 0x0000, 0x0000, 0x04D2], 12.34, "kvarh"), // u64 1234 × 0.01
        Row("apparent_energy_total", [0x0000, 0x0000, 0x0002, 0x49F0], 1500.0, "kVAh"), // u64 150000 × 0.01
        Row("active_energy_import_l1", [0x0000, 0x0000, 0x0000, 0x9C40], 400.0, "kWh"), // u64 40000 × 0.01
        Row("active_energy_import_l2", [0x0000, 0x0000, 0x0000, 0xA028], 410.0, "kWh"), // u64 41000 × 0.01
        Row("active_energy_import_l3", [0x0000, 0x0000, 0x0000, 0xA410], 420.0, "kWh"), // u64 42000 × 0.01
        Row("active_energy_export_l1", [0x0000, 0x0000, 0x0000, 0x05DC], 15.0, "kWh"), // u64 1500 × 0.01
        Row("active_energy_export_l2", [0x0000, 0x0000, 0x0000, 0x0640], 16.0, "kWh"), // u64 1600 × 0.01
        Row("active_energy_export_l3", [0x0000, 0x0000, 0x0000, 0x05BB], 14.67, "kWh"), // u64 1467 × 0.01
        Row("voltage_l1", [0x0000, 0x08FC], 230.0, "V"), // u32 2300 × 0.1
        Row("voltage_l2", [0x0000, 0x090B], 231.5, "V"), // u32 2315 × 0.1
        Row("voltage_l3", [0x0000, 0x08F4], 229.2, "V"), // u32 2292 × 0.1
        Row("voltage_l1_l2", [0x0000, 0x0FA5], 400.5, "V"), // u32 4005 × 0.1
        Row("voltage_l2_l3", [0x0000, 0x0F9D], 399.7, "V"), // u32 3997 × 0.1
        Row("voltage_l3_l1", [0x0000, 0x0FAC], 401.2, "V"), // u32 4012 × 0.1
        Row("current_l1", [0x0000, 0x0226], 5.5, "A"), // u32 550 × 0.01
        Row("current_l2", [0x0000, 0x0271], 6.25, "A"), // u32 625 × 0.01
        Row("current_l3", [0x0000, 0x0307], 7.75, "A"), // u32 775 × 0.01
        Row("current_neutral", [0x0000, 0x0070], 1.12, "A"), // u32 112 × 0.01
        Row("active_power_total", [0x0002, 0xCAF1], 1830.25, "W"), // i32 183025 × 0.01
        Row("active_power_l1", [0x0001, 0xD4F2], 1200.5, "W"), // i32 120050 × 0.01
        Row("active_power_l2", [0xFFFF, 0x772F], -350.25, "W"), // i32 -35025 × 0.01
        Row("active_power_l3", [0x0001, 0x7ED0], 980.0, "W"), // i32 98000 × 0.01
        Row("reactive_power_total", [0x0000, 0x5F69], 244.25, "var"), // i32 24425 × 0.01
        Row("reactive_power_l1", [0xFFFF, 0xD0EE], -120.5, "var"), // i32 -12050 × 0.01
        Row("reactive_power_l2", [0x0000, 0x1900], 64.0, "var"), // i32 6400 × 0.01
        Row("reactive_power_l3", [0x0000, 0x757B], 300.75, "var"), // i32 30075 × 0.01
        Row("apparent_power_total", [0x0006, 0xDD6C], 4499.0, "VA"), // i32 449900 × 0.01
        Row("apparent_power_l1", [0x0001, 0xEE24], 1265.0, "VA"), // i32 126500 × 0.01
        Row("apparent_power_l2", [0x0002, 0x352F], 1446.87, "VA"), // i32 144687 × 0.01
        Row("apparent_power_l3", [0x0002, 0xBA18], 1787.12, "VA"), // i32 178712 × 0.01
        Row("frequency", [0x1385], 49.97, "Hz"), // u16 4997 × 0.01
        Row("power_factor_total", [0x03A9], 0.937, ""), // i16 937 × 0.001
        Row("power_factor_l1", [0x03C8], 0.968, ""), // i16 968 × 0.001
        Row("power_factor_l2", [0xFE0C], -0.5, ""), // i16 -500 × 0.001
        Row("power_factor_l3", [0x036B], 0.875, ""), // i16 875 × 0.001
    ]

    static let em24: [Row] = [
        Row("voltage_l1", [0x08FC, 0x0000], 230.0, "V"), // i32 LSW first, 2300 × 0.1
        Row("voltage_l2", [0x090B, 0x0000], 231.5, "V"), // i32 LSW first, 2315 × 0.1
        Row("voltage_l3", [0x08F4, 0x0000], 229.2, "V"), // i32 LSW first, 2292 × 0.1
        Row("voltage_l1_l2", [0x0FA5, 0x0000], 400.5, "V"), // i32 LSW first, 4005 × 0.1
        Row("voltage_l2_l3", [0x0F9D, 0x0000], 399.7, "V"), // i32 LSW first, 3997 × 0.1
        Row("voltage_l3_l1", [0x0FAC, 0x0000], 401.2, "V"), // i32 LSW first, 4012 × 0.1
        Row("current_l1", [0x157C, 0x0000], 5.5, "A"), // i32 LSW first, 5500 × 0.001
        Row("current_l2", [0x186A, 0x0000], 6.25, "A"), // i32 LSW first, 6250 × 0.001
        Row("current_l3", [0x1E46, 0x0000], 7.75, "A"), // i32 LSW first, 7750 × 0.001
        Row("active_power_l1", [0x2EE5, 0x0000], 1200.5, "W"), // i32 LSW first, 12005 × 0.1
        Row("active_power_l2", [0xF252, 0xFFFF], -350.2, "W"), // i32 LSW first, -3502 × 0.1
        Row("active_power_l3", [0x2648, 0x0000], 980.0, "W"), // i32 LSW first, 9800 × 0.1
        Row("apparent_power_l1", [0x316A, 0x0000], 1265.0, "VA"), // i32 LSW first, 12650 × 0.1
        Row("apparent_power_l2", [0x3884, 0x0000], 1446.8, "VA"), // i32 LSW first, 14468 × 0.1
        Row("apparent_power_l3", [0x45CF, 0x0000], 1787.1, "VA"), // i32 LSW first, 17871 × 0.1
        Row("reactive_power_l1", [0xFB4B, 0xFFFF], -120.5, "var"), // i32 LSW first, -1205 × 0.1
        Row("reactive_power_l2", [0x0280, 0x0000], 64.0, "var"), // i32 LSW first, 640 × 0.1
        Row("reactive_power_l3", [0x0BBF, 0x0000], 300.7, "var"), // i32 LSW first, 3007 × 0.1
        Row("active_power_total", [0x477E, 0x0000], 1830.2, "W"), // i32 LSW first, 18302 × 0.1
        Row("apparent_power_total", [0xAFBE, 0x0000], 4499.0, "VA"), // i32 LSW first, 44990 × 0.1
        Row("reactive_power_total", [0x098A, 0x0000], 244.2, "var"), // i32 LSW first, 2442 × 0.1
        Row("active_power_demand", [0x3A9D, 0x0000], 1500.5, "W"), // i32 LSW first, 15005 × 0.1
        Row("power_factor_l1", [0x03C8], 0.968, ""), // i16 968 × 0.001
        Row("power_factor_l2", [0xFE0C], -0.5, ""), // i16 -500 × 0.001
        Row("power_factor_l3", [0x036B], 0.875, ""), // i16 875 × 0.001
        Row("power_factor_total", [0x03A9], 0.937, ""), // i16 937 × 0.001
        Row("frequency", [0x01F4], 50.0, "Hz"), // i16 500 × 0.1
        Row("active_energy_import", [0xE23F, 0x0001], 12345.5, "kWh"), // i32 LSW first, 123455 × 0.1
        Row("reactive_energy_import", [0x5BA1, 0x0000], 2345.7, "kvarh"), // i32 LSW first, 23457 × 0.1
        Row("active_energy_import_l1", [0x9C45, 0x0000], 4000.5, "kWh"), // i32 LSW first, 40005 × 0.1
        Row("active_energy_import_l2", [0xA02A, 0x0000], 4100.2, "kWh"), // i32 LSW first, 41002 × 0.1
        Row("active_energy_import_l3", [0xA5CF, 0x0000], 4244.7, "kWh"), // i32 LSW first, 42447 × 0.1
        Row("active_energy_export", [0x1A7E, 0x0000], 678.2, "kWh"), // i32 LSW first, 6782 × 0.1
    ]

    static let finder7M: [Row] = [
        Row("frequency", [0x4247, 0xE000], 49.96875, "Hz"), // binary32 0x4247E000
        Row("voltage_l1", [0x4366, 0x0000], 230.0, "V"), // binary32 0x43660000
        Row("voltage_l2", [0x4367, 0x8000], 231.5, "V"), // binary32 0x43678000
        Row("voltage_l3", [0x4365, 0x4000], 229.25, "V"), // binary32 0x43654000
        Row("voltage_l1_l2", [0x43C8, 0x4000], 400.5, "V"), // binary32 0x43C84000
        Row("voltage_l2_l3", [0x43C7, 0xE000], 399.75, "V"), // binary32 0x43C7E000
        Row("voltage_l3_l1", [0x43C8, 0xA000], 401.25, "V"), // binary32 0x43C8A000
        Row("current_l1", [0x40B0, 0x0000], 5.5, "A"), // binary32 0x40B00000
        Row("current_l2", [0x40C8, 0x0000], 6.25, "A"), // binary32 0x40C80000
        Row("current_l3", [0x40F8, 0x0000], 7.75, "A"), // binary32 0x40F80000
        Row("active_power_l1", [0x4496, 0x1000], 1200.5, "W"), // binary32 0x44961000
        Row("active_power_l2", [0xC3AF, 0x2000], -350.25, "W"), // binary32 0xC3AF2000
        Row("active_power_l3", [0x4475, 0x0000], 980.0, "W"), // binary32 0x44750000
        Row("active_power_total", [0x44E4, 0xC800], 1830.25, "W"), // binary32 0x44E4C800
        Row("reactive_power_l1", [0xC2F1, 0x0000], -120.5, "var"), // binary32 0xC2F10000
        Row("reactive_power_l2", [0x4280, 0x0000], 64.0, "var"), // binary32 0x42800000
        Row("reactive_power_l3", [0x4396, 0x6000], 300.75, "var"), // binary32 0x43966000
        Row("reactive_power_total", [0x4374, 0x4000], 244.25, "var"), // binary32 0x43744000
        Row("apparent_power_l1", [0x449E, 0x2000], 1265.0, "VA"), // binary32 0x449E2000
        Row("apparent_power_l2", [0x44B4, 0xDC00], 1446.875, "VA"), // binary32 0x44B4DC00
        Row("apparent_power_l3", [0x44DF, 0x6400], 1787.125, "VA"), // binary32 0x44DF6400
        Row("apparent_power_total", [0x458C, 0x9800], 4499.0, "VA"), // binary32 0x458C9800
        Row("power_factor_l1", [0x3F78, 0x0000], 0.96875, ""), // binary32 0x3F780000
        Row("power_factor_l2", [0xBF00, 0x0000], -0.5, ""), // binary32 0xBF000000
        Row("power_factor_l3", [0x3F60, 0x0000], 0.875, ""), // binary32 0x3F600000
        Row("power_factor_total", [0x3F70, 0x0000], 0.9375, ""), // binary32 0x3F700000
        Row("thd_voltage_l1", [0x4020, 0x0000], 2.5, "%"), // binary32 0x40200000
        Row("thd_voltage_l2", [0x4050, 0x0000], 3.25, "%"), // binary32 0x40500000
        Row("thd_voltage_l3", [0x3FE0, 0x0000], 1.75, "%"), // binary32 0x3FE00000
        Row("active_energy_import", [0x4996, 0xB438], 1234.567, "kWh"), // 1234567.0 Wh/varh as binary32 0x4996B438, /1000
        Row("active_energy_export", [0x47AD, 0xDA00], 89.012, "kWh"), // 89012.0 Wh/varh as binary32 0x47ADDA00, /1000
        Row("reactive_energy_import", [0x48A8, 0xC9C0], 345.678, "kvarh"), // 345678.0 Wh/varh as binary32 0x48A8C9C0, /1000
        Row("reactive_energy_export", [0x460C, 0xD200], 9.0125, "kvarh"), // 9012.5 Wh/varh as binary32 0x460CD200, /1000
    ]

    static let genericTemplate: [Row] = [
        Row("voltage_l1", [0x4366, 0x0000], 230.0, "V"), // binary32 0x43660000
        Row("current_l1", [0x0226], 5.5, "A"), // u16 550 × 0.01
        Row("active_power_total", [0xF8DA, 0xFFFF], -1830.0, "W"), // i32 LSW first, -1830 × 1
        Row("power_factor_total", [0xFC57], -0.937, ""), // i16 -937 × 0.001
        Row("frequency", [0x1385], 49.97, "Hz"), // u16 4997 × 0.01
        Row("active_energy_import", [0x0000, 0x0000, 0x00BC, 0x614E], 12345.678, "kWh"), // u64 12345678 × 0.001
        Row("active_energy_export", [0x4085, 0x3200, 0x0000, 0x0000], 678.25, "kWh"), // binary64 0x4085320000000000
        Row("reactive_energy_import", [0xA15B, 0x0000], 2345.7, "kvarh"), // u32 LSW first, bytes swapped, 23457 × 0.1
        Row("meter_uptime", [0x0001, 0x5180], 86400.0, "s"), // u32 86400 × 1
    ]
}
