import Foundation
import Testing
import ConcentratorCore
import Platform
import TestSupport
@testable import Bus
import MeterProtocols
import MeterSimulator

/// Issue 10 §5: a merged read over one register the meter does not have (exception 02) used to lose
/// every value of the block. Now the block is bisected, the working plan is kept per meter, and only
/// the missing register is a per-value error. Against meter-sim's `holes` fault on a real PTY.
@Suite(.serialized) struct MergedReadBisectionTests {
    @Test func aHoleInTheRegisterMapCostsOnlyItsOwnValueAndTheWorkingPlanIsKept() throws {
        let profile = ShippedProfiles.get("eastron-sdm630")
        let plan = ModbusBlockPlanner.plan(profile.modbus!)
        // A register in the middle of the largest merged block.
        let block = try #require(plan.max { $0.registers.count < $1.registers.count })
        try #require(block.registers.count >= 4)
        let missing = block.registers[block.registers.count / 2]
        let field = try SimulatedField(count: 1, profiles: ["eastron-sdm630"], faults: [.meter(.slave(1), .holes([missing.address]))])
        let owner = BusOwner(settings: field.busSettings(), meters: field.meters, schedule: BusSchedule(archive: ArchiveSettings()),
                             clock: clockBeforeBoundary(secondsBefore: 3600), sink: MemorySink(), logger: testLogger, clockSynchronised: { true })
        owner.start()
        defer { owner.stop() }

        let first = try owner.readNow(meter: "m1").get()
        for value in first.values {
            if value.quantity == missing.quantity {
                #expect(value.error == .modbusException(2), "the missing register is a per-value error")
            } else {
                #expect(value.value != nil, "\(value.quantity) lost: \(String(describing: value.error))")
            }
        }
        let afterFirst = field.served.count
        #expect(afterFirst > plan.count, "the refused block was split and read again")

        // The next poll reads the working plan directly: the only refusal left is the missing value alone.
        let second = try owner.readNow(meter: "m1").get()
        #expect(second.values.filter { $0.error != nil }.map(\.quantity) == [missing.quantity])
        let requests = Array(field.served.dropFirst(afterFirst))
        let refused = requests.filter { $0.exception == 2 }
        // (Another poll may run meanwhile, e.g. the live cadence: every one uses the working plan.)
        #expect(!refused.isEmpty)
        #expect(refused.allSatisfy { $0.count == missing.registerCount },
                "only the missing value is refused: \(requests.map { "\($0.count ?? 0)/\($0.exception ?? 0)" })")
        #expect(!requests.contains { $0.count == block.count }, "the refused merged block is not asked again")
    }

    @Test func theHolesFaultParsesAndRefusesOnlyReadsThatCoverAHole() throws {
        let fault = try MeterFault.parse("holes:30,32")
        #expect(fault == .holes([30, 32]))
        #expect(fault.description == "holes:30,32")
        #expect(throws: SimulatorArgumentError.self) { _ = try MeterFault.parse("holes:x") }
    }
}

/// Issue 10 §5: the first cycle after a start gives a meter the retry rule of every later cycle: one
/// that was answering (before the restart, says the archive) is retried; one never heard is not.
@Suite(.serialized) struct FirstCycleRetryTests {
    @Test func aMeterThatAnsweredBeforeTheRestartIsRetriedInTheFirstCycle() throws {
        let field = try SimulatedField(count: 3, profiles: ["eastron-sdm120"], faults: [.meter(.slave(2), .silence), .meter(.slave(3), .silence)])
        let sink = MemorySink()
        sink.answeredEarlier = ["m2"]
        let owner = BusOwner(settings: field.busSettings(timeouts: 50...200, retries: 1), meters: field.meters,
                             schedule: BusSchedule(archive: ArchiveSettings()), clock: clockBeforeBoundary(secondsBefore: 0.5), sink: sink,
                             logger: testLogger, clockSynchronised: { true })
        owner.start()
        defer { owner.stop() }
        #expect(waitUntil(timeout: .seconds(30)) { !sink.commits.isEmpty })
        let served = field.served
        #expect(served.filter { $0.slave == 2 }.count == 2, "answered before the restart: one retry in the first cycle")
        #expect(served.filter { $0.slave == 3 }.count == 1, "never heard: no retry")
    }
}

/// Issue 10 §5: a missing port is one port-level message, not a "check its wiring, address…" warning
/// per meter (which points at the wrong cause).
@Suite(.serialized) struct MissingPortLogTests {
    @Test func aMissingPortLogsOnePortLevelMessageAndNoPerMeterWarning() throws {
        let dir = TemporaryDirectory("bus-missing-port")
        let profile = ShippedProfiles.get("eastron-sdm120")
        let meters = (1...4).map { (MeterSettings(id: MeterID("m\($0)"), bus: "bus1", address: .modbus(UInt8($0)), profile: profile.id), profile) }
        let log = CapturedLog()
        let sink = MemorySink()
        let owner = BusOwner(settings: BusSettings(name: "bus1", device: dir.file("missing-tty"), responseTimeoutMilliseconds: 50...200),
                             meters: meters, schedule: BusSchedule(archive: ArchiveSettings()), clock: clockBeforeBoundary(secondsBefore: 0.5),
                             sink: sink, logger: log.logger, clockSynchronised: { true })
        owner.start()
        defer { owner.stop() }
        #expect(waitUntil(timeout: .seconds(30)) { !sink.commits.isEmpty })
        let lines = log.lines.filter { $0.level >= .warning }.map(\.message)
        #expect(!lines.contains { $0.contains("check its wiring") }, "\(lines)")
        #expect(lines.filter { $0.contains("missing-tty") }.count == 1, "one port-level message: \(lines)")
    }
}
