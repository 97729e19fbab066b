import ConcentratorCore

/// One read request planned for a meter: a contiguous run of registers of one function code and
/// the quantities whose values lie inside it. Decode its answer with `decode(_:)`.
public struct ModbusReadBlock: Hashable, Sendable {
    /// `.readHoldingRegisters` (3) or `.readInputRegisters` (4).
    public let function: ModbusFunction
    /// First register address read.
    public let start: UInt16
    /// Number of registers read, 1–125.
    public let count: Int
    /// The register specs covered, in address order.
    public let registers: [ModbusRegisterSpec]
    /// Raw values that mean "not available" (from the profile).
    public let notAvailableMarker: ModbusNotAvailableMarker

    public init(function: ModbusFunction, start: UInt16, count: Int, registers: [ModbusRegisterSpec],
                notAvailableMarker: ModbusNotAvailableMarker = .noMarker) {
        self.function = function
        self.start = start
        self.count = count
        self.registers = registers
        self.notAvailableMarker = notAvailableMarker
    }

    /// The last register address read.
    public var end: Int { Int(start) + count - 1 }

    /// The request for slave `slave` that reads this block (input registers for function 4,
    /// holding registers otherwise: profiles only allow 3 and 4).
    public func request(slave: UInt8) -> ModbusRequest {
        let n = UInt16(clamping: count)
        switch function {
        case .readInputRegisters: return ModbusRequest(slave: slave, pdu: .readInputRegisters(start: start, count: n))
        default: return ModbusRequest(slave: slave, pdu: .readHoldingRegisters(start: start, count: n))
        }
    }
}

/// Merges a profile's registers into as few read requests as the meter allows.
///
/// Rules, applied per function code in address order (deterministic for a given map):
/// - a block never holds more than `maxRegistersPerRequest` registers, and never more than 125;
/// - a block never touches a register inside a declared gap of its function code;
/// - a block may read unused registers between two wanted values ("holes") only when the hole is at
///   most `maxHole` registers long and lies outside every gap; otherwise a new block starts;
/// - a value is never split across blocks.
/// Under these rules the greedy "extend the current block as far as allowed" plan uses the fewest
/// requests. A value that alone breaks a rule (inside a gap, or longer than the limit) is still
/// planned, alone in its block; `MeterProfileLoader` rejects such profiles before they get here.
public enum ModbusBlockPlanner {
    /// Default for `maxHole`: reading 16 spare registers costs 32 bytes on the line (about 33 ms at
    /// 9600 baud), less than a further request with its framing, silences and meter turnaround.
    public static let defaultMaxHole = 16

    /// The read blocks that cover `quantities` (all of the map's quantities when nil).
    public static func plan(_ map: ModbusRegisterMap, quantities: Set<QuantityID>? = nil,
                            maxHole: Int = defaultMaxHole) -> [ModbusReadBlock] {
        let limit = max(1, min(map.maxRegistersPerRequest, MeterProfileLoader.modbusRegisterLimit))
        let wanted = map.registers.filter { quantities?.contains($0.quantity) ?? true }
        let ordered = wanted.sorted {
            ($0.function.rawValue, $0.address, $0.lastAddress, $0.quantity.rawValue)
                < ($1.function.rawValue, $1.address, $1.lastAddress, $1.quantity.rawValue)
        }
        var blocks: [ModbusReadBlock] = []
        var current: [ModbusRegisterSpec] = []
        var blockStart = 0
        var blockEnd = 0

        func close() {
            guard let first = current.first else { return }
            blocks.append(ModbusReadBlock(function: first.function, start: UInt16(blockStart), count: blockEnd - blockStart + 1,
                                          registers: current, notAvailableMarker: map.notAvailableMarker))
            current = []
        }

        for spec in ordered {
            if let first = current.first {
                let hole = Int(spec.address) - blockEnd - 1
                let newEnd = max(blockEnd, spec.lastAddress)
                let fits = first.function == spec.function
                    && hole <= maxHole
                    && newEnd - blockStart + 1 <= limit
                    && !touchesGap(map.gaps, function: spec.function, from: blockStart, to: newEnd)
                if fits {
                    current.append(spec)
                    blockEnd = newEnd
                    continue
                }
                close()
            }
            current = [spec]
            blockStart = Int(spec.address)
            blockEnd = spec.lastAddress
        }
        close()
        return blocks
    }

    private static func touchesGap(_ gaps: [ModbusRegisterGap], function: ModbusFunction, from: Int, to: Int) -> Bool {
        gaps.contains { $0.function == function && Int($0.first) <= to && Int($0.last) >= from }
    }
}
