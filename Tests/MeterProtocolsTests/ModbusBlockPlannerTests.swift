import Testing
import ConcentratorCore
@testable import MeterProtocols

@Suite struct ModbusBlockPlannerTests {
    /// Catalog quantities to hang test registers on (the planner does not care which).
    static let names: [QuantityID] = QuantityCatalog.all.map(\.id)

    static func spec(_ index: Int, _ address: Int, _ type: RegisterValueType = .f32,
                     function: ModbusFunction = .readInputRegisters) -> ModbusRegisterSpec {
        ModbusRegisterSpec(quantity: names[index % names.count], function: function, address: UInt16(address), type: type, unit: .none)
    }

    static func ranges(_ blocks: [ModbusReadBlock]) -> [String] {
        blocks.map { "\($0.function.rawValue):\($0.start)+\($0.count)" }
    }

    @Test func mergesAdjacentRegistersIntoOneRequest() {
        let map = ModbusRegisterMap(maxRegistersPerRequest: 125, registers: [Self.spec(0, 0), Self.spec(1, 2), Self.spec(2, 4)])
        let blocks = ModbusBlockPlanner.plan(map)
        #expect(Self.ranges(blocks) == ["4:0+6"])
        #expect(blocks[0].registers.map(\.address) == [0, 2, 4])
    }

    @Test func respectsTheMetersLimit() {
        let map = ModbusRegisterMap(maxRegistersPerRequest: 4, registers: (0..<5).map { Self.spec($0, 2 * $0) })
        #expect(Self.ranges(ModbusBlockPlanner.plan(map)) == ["4:0+4", "4:4+4", "4:8+2"])
    }

    @Test func neverExceedsTheProtocolLimitOf125() {
        let map = ModbusRegisterMap(maxRegistersPerRequest: 500, registers: (0..<70).map { Self.spec($0, 2 * $0) })
        let blocks = ModbusBlockPlanner.plan(map)
        #expect(Self.ranges(blocks) == ["4:0+124", "4:124+16"])
    }

    @Test func neverReadsAcrossADeclaredGap() {
        let gap = ModbusRegisterGap(function: .readInputRegisters, first: 2, last: 3)
        let map = ModbusRegisterMap(gaps: [gap], registers: [Self.spec(0, 0), Self.spec(1, 4)])
        #expect(Self.ranges(ModbusBlockPlanner.plan(map)) == ["4:0+2", "4:4+2"])
        // A gap of the other function code does not matter.
        let other = ModbusRegisterGap(function: .readHoldingRegisters, first: 2, last: 3)
        let map2 = ModbusRegisterMap(gaps: [other], registers: [Self.spec(0, 0), Self.spec(1, 4)])
        #expect(Self.ranges(ModbusBlockPlanner.plan(map2)) == ["4:0+6"])
    }

    @Test func bridgesOnlySmallHoles() {
        // Hole between 1 and 30 is 28 registers (2…29).
        let map = ModbusRegisterMap(registers: [Self.spec(0, 0), Self.spec(1, 30)])
        #expect(Self.ranges(ModbusBlockPlanner.plan(map)) == ["4:0+2", "4:30+2"])
        #expect(Self.ranges(ModbusBlockPlanner.plan(map, maxHole: 28)) == ["4:0+32"])
        #expect(Self.ranges(ModbusBlockPlanner.plan(map, maxHole: 27)) == ["4:0+2", "4:30+2"])
        #expect(Self.ranges(ModbusBlockPlanner.plan(map, maxHole: 0)) == ["4:0+2", "4:30+2"])
    }

    @Test func keepsFunctionCodesApart() {
        let map = ModbusRegisterMap(registers: [
            Self.spec(0, 0, function: .readInputRegisters), Self.spec(1, 2, function: .readHoldingRegisters),
            Self.spec(2, 0, function: .readHoldingRegisters),
        ])
        #expect(Self.ranges(ModbusBlockPlanner.plan(map)) == ["3:0+4", "4:0+2"])
    }

    @Test func plansOnlyTheRequestedQuantities() {
        let map = ModbusRegisterMap(registers: (0..<10).map { Self.spec($0, 2 * $0) })
        let blocks = ModbusBlockPlanner.plan(map, quantities: [Self.names[3], Self.names[9]])
        #expect(Self.ranges(blocks) == ["4:6+14"])
        #expect(blocks.flatMap(\.registers).map(\.quantity) == [Self.names[3], Self.names[9]])
        #expect(ModbusBlockPlanner.plan(map, quantities: []).isEmpty)
        #expect(ModbusBlockPlanner.plan(map, quantities: [QuantityID("not_in_map")]).isEmpty)
    }

    @Test func isDeterministicWhateverTheProfileOrder() {
        var rng = SplitMix64(seed: 7)
        let specs = (0..<40).map { Self.spec($0, 3 * $0, $0 % 3 == 0 ? .u16 : .f32) }
        let reference = ModbusBlockPlanner.plan(ModbusRegisterMap(maxRegistersPerRequest: 20, registers: specs))
        for _ in 0..<50 {
            let shuffled = specs.shuffled(using: &rng)
            #expect(ModbusBlockPlanner.plan(ModbusRegisterMap(maxRegistersPerRequest: 20, registers: shuffled)) == reference)
        }
    }

    @Test func buildsTheRequestForTheBlock() {
        let holding = ModbusReadBlock(function: .readHoldingRegisters, start: 0x5B00, count: 62, registers: [])
        #expect(holding.request(slave: 3) == ModbusRequest(slave: 3, pdu: .readHoldingRegisters(start: 0x5B00, count: 62)))
        let input = ModbusReadBlock(function: .readInputRegisters, start: 0, count: 80, registers: [])
        #expect(input.request(slave: 1) == ModbusRequest(slave: 1, pdu: .readInputRegisters(start: 0, count: 80)))
    }

    /// Random maps: every plan obeys the rules, covers each wanted value exactly once, and uses as
    /// few requests as an independent exhaustive search (dynamic programming over split points).
    @Test func randomMapsObeyTheRulesWithTheFewestRequests() {
        var rng = SplitMix64(seed: 2024)
        for _ in 0..<400 {
            let map = Self.randomMap(&rng)
            let maxHole = Int.random(in: 0...20, using: &rng)
            let blocks = ModbusBlockPlanner.plan(map, maxHole: maxHole)
            let limit = min(map.maxRegistersPerRequest, 125)
            var covered: [ModbusRegisterSpec] = []
            for block in blocks {
                #expect(block.count >= 1 && block.count <= limit)
                #expect(!map.gaps.contains { $0.function == block.function && Int($0.first) <= block.end && Int($0.last) >= Int(block.start) })
                var end = Int(block.start) - 1
                for spec in block.registers {
                    #expect(spec.function == block.function)
                    #expect(Int(spec.address) >= Int(block.start) && spec.lastAddress <= block.end)
                    #expect(Int(spec.address) - end - 1 <= maxHole)
                    end = max(end, spec.lastAddress)
                }
                #expect(end == block.end)
                covered += block.registers
            }
            #expect(covered.count == map.registers.count)
            #expect(Set(covered) == Set(map.registers))
            #expect(blocks.count == Self.fewestBlocks(map, maxHole: maxHole))
        }
    }

    static func randomMap(_ rng: inout SplitMix64) -> ModbusRegisterMap {
        let limit = Int.random(in: 4...40, using: &rng)
        var specs: [ModbusRegisterSpec] = []
        var gaps: [ModbusRegisterGap] = []
        for function in [ModbusFunction.readHoldingRegisters, .readInputRegisters] {
            var address = Int.random(in: 0...10, using: &rng)
            for _ in 0..<Int.random(in: 0...15, using: &rng) {
                let type = [RegisterValueType.u16, .f32, .u64].randomElement(using: &rng)!
                if Int.random(in: 0..<6, using: &rng) == 0 {
                    let length = Int.random(in: 1...4, using: &rng)
                    gaps.append(ModbusRegisterGap(function: function, first: UInt16(address), last: UInt16(address + length - 1)))
                    address += length
                }
                specs.append(spec(specs.count, address, type, function: function))
                address += type.registerCount + Int.random(in: 0...25, using: &rng)
            }
        }
        return ModbusRegisterMap(maxRegistersPerRequest: limit, gaps: gaps, registers: specs)
    }

    /// The fewest blocks, by trying every way of cutting the sorted values into consecutive runs.
    static func fewestBlocks(_ map: ModbusRegisterMap, maxHole: Int) -> Int {
        var total = 0
        for function in [ModbusFunction.readHoldingRegisters, .readInputRegisters] {
            let specs = map.registers.filter { $0.function == function }.sorted { $0.address < $1.address }
            guard !specs.isEmpty else { continue }
            func valid(_ i: Int, _ j: Int) -> Bool {
                let start = Int(specs[i].address), end = specs[i...j].map(\.lastAddress).max()!
                if end - start + 1 > min(map.maxRegistersPerRequest, 125) { return false }
                if map.gaps.contains(where: { $0.function == function && Int($0.first) <= end && Int($0.last) >= start }) { return false }
                for k in stride(from: i + 1, through: j, by: 1) where Int(specs[k].address) - specs[k - 1].lastAddress - 1 > maxHole {
                    return false
                }
                return true
            }
            var best = [Int](repeating: Int.max, count: specs.count + 1)
            best[0] = 0
            for j in 1...specs.count {
                for i in 0..<j where best[i] != Int.max && valid(i, j - 1) { best[j] = min(best[j], best[i] + 1) }
            }
            total += best[specs.count]
        }
        return total
    }
}

/// A small seeded generator (SplitMix64, Steele, Lea & Flood 2014) so random tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
