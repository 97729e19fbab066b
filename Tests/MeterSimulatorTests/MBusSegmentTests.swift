import Foundation
import Testing
import ConcentratorCore
import MeterProtocols
import Platform
import TestSupport
@testable import MeterSimulator

/// Wired M-Bus sessions against simulated slaves on one segment, in memory (bytes in, bytes out),
/// with collisions as a real bus makes them: answers that overlap are ANDed, E5s sent at different
/// moments arrive one after the other.
@Suite struct MBusSegmentTests {
    static let library = ProfileLibrary.load(directories: [BuiltProducts.profilesDirectory])
    static var heatMap: MBusRecordMap { library.profile(id: "kamstrup-multical-403")!.mbus! }
    static let time = Timestamp(seconds: 1_790_000_000)

    static func identity(_ hex: String, _ manufacturer: String = "KAM", version: UInt8 = 0x34, medium: UInt8 = 4) -> MBusIdentity {
        MBusIdentity(number: UInt32(hex, radix: 16)!, manufacturer: MBusManufacturer.code(manufacturer)!, version: version, medium: medium)
    }

    /// Twenty slaves: ids that share long prefixes (deep collisions), two that differ only in the hex
    /// letters A and B of the last digit, one with hex letters inside, two that differ only in their
    /// medium; several with the same turnaround (their E5s merge and only the REQ_UD2 shows the
    /// collision), others apart (two E5s on the line).
    static let twenty: [MBusIdentity] = {
        var ids = (0..<14).map { identity(String(format: "123456%02d", $0)) }
        ids += [identity("1234567A"), identity("1234567B"), identity("12C4E600", "DME", version: 0x70, medium: 7),
                identity("55550001", "QDS", version: 0x35, medium: 8), identity("55550001", "QDS", version: 0x35, medium: 7),
                identity("00000000", "SON", version: 0x3C, medium: 6)]
        return ids
    }()

    static func segment(_ identities: [MBusIdentity], echo: Bool = false, telegrams: Int = 1, primary: Bool = true) -> MBusSimulatedSegment {
        let setups = identities.enumerated().map { i, id in
            MBusSlaveSetup(primaryAddress: primary ? UInt8(i + 1) : nil, identity: id, map: heatMap, telegrams: telegrams,
                           turnaroundCharacters: [2, 2, 5, 9, 2][i % 5])
        }
        return MBusSimulatedSegment(slaves: setups, seed: 7, echo: echo)
    }

    @Test func theSecondaryScanFindsTwentySlavesThroughCollisions() {
        var bus = Self.segment(Self.twenty, primary: false)
        var session = MBusSecondaryScanSession()
        var progress: [Double] = []
        let run = MeterSessionDriver.run(&session) { request in
            bus.respond(to: request, at: Self.time)
        }
        progress.append(session.progress.fractionDone)
        guard case .success(let result) = run.result else { Issue.record("scan failed: \(run.result)"); return }
        #expect(result.found == Self.twenty.sorted())
        #expect(result.unresolved.isEmpty)
        #expect(result.probes == run.written.filter { $0.count > 5 && $0[6] == MBusCI.selectSecondary }.count)
        #expect(session.progress.fractionDone == 1 && session.progress.found == 20)
        // The letters were probed as digits: some selection named A or B in the last place.
        let selections = run.written.compactMap { w -> MBusSecondaryAddress? in
            guard case .long(_, _, MBusCI.selectSecondary, let data)? = try? MBusFrame.decode(w) else { return nil }
            return MBusSelection.address(fromData: data)
        }
        #expect(selections.contains { $0.digits == [1, 2, 3, 4, 5, 6, 7, 0xA] })
        #expect(selections.contains { $0.digits[7] == 0xE })
        #expect(selections.contains { $0.medium != nil }, "the two slaves with one id were separated by medium")
    }

    @Test func scanProgressOnlyGrows() {
        var bus = Self.segment(Array(Self.twenty.prefix(6)), primary: false)
        var session = MBusSecondaryScanSession()
        var fractions: [Double] = [session.progress.fractionDone]
        var step = session.start()
        var steps = 0
        loop: while steps < 10_000 {
            steps += 1
            switch step {
            case .transmit(let bytes, _, _):
                let answer = bus.respond(to: bytes, at: Self.time)
                step = session.received(answer)
                if case .awaitMore = step { step = session.timedOut() }
            case .finished, .failed: break loop
            default: step = session.timedOut()
            }
            fractions.append(session.progress.fractionDone)
        }
        #expect(zip(fractions, fractions.dropFirst()).allSatisfy { $0 <= $1 + 1e-12 })
        #expect(fractions.last == 1)
        guard case .finished(let result) = step else { Issue.record("did not finish"); return }
        #expect(result.found.count == 6)
    }

    @Test func aMultiTelegramReadoutTogglesTheFCB() throws {
        var bus = Self.segment([Self.twenty[0]], telegrams: 3)
        var session = MBusReadoutSession(target: .primary(1))
        let run = MeterSessionDriver.run(&session, chunk: 5) { bus.respond(to: $0, at: Self.time) }
        guard case .success(let readout) = run.result else { Issue.record("\(run.result)"); return }
        #expect(readout.telegrams.count == 3)
        #expect(run.written.map { $0[1] } == [0x40, 0x7B, 0x5B, 0x7B], "NKE, then REQ_UD2 with FCB 1, 0, 1")
        #expect(run.lineSwitches == [MBusSessionOptions.standardLine])
        #expect(readout.identity == Self.twenty[0])
        let all = try MBusRecordDecoder.decode(MBusRecordEncoder.records(for: Self.heatMap, model: bus.slaves[0].model, at: Self.time)).records
        #expect(readout.records.map(\.vib) == all.map(\.vib))
        #expect(readout.records.map(\.value) == all.map(\.value))
        let values = MBusProfileDecoder.read(readout.records, map: Self.heatMap)
        #expect(values.missing.isEmpty)
        let energy = try #require(values.values.first { $0.quantity == "heat_energy" }?.value)
        #expect(abs(energy - bus.slaves[0].model.value("heat_energy", at: Self.time)) <= 0.5)
    }

    @Test func aSecondaryReadoutThroughAnEchoingConverter() {
        var bus = Self.segment(Array(Self.twenty.prefix(5)), echo: true, primary: false)
        var session = MBusReadoutSession(target: .secondary(MBusSecondaryAddress(exactly: Self.twenty[3])))
        let run = MeterSessionDriver.run(&session, chunk: 3) { bus.respond(to: $0, at: Self.time) }
        guard case .success(let readout) = run.result else { Issue.record("\(run.result)"); return }
        #expect(readout.echoSeen && readout.identity == Self.twenty[3])
        #expect(run.written.count == 3)
    }

    @Test func aLostAnswerIsAskedForAgainWithTheSameFCB() {
        var bus = Self.segment([Self.twenty[0]], telegrams: 2)
        var dropped = false
        var session = MBusReadoutSession(target: .primary(1))
        let run = MeterSessionDriver.run(&session) { request in
            let answer = bus.respond(to: request, at: Self.time)
            if request[1] == 0x5B, !dropped { dropped = true; return [] }
            return answer
        }
        guard case .success(let readout) = run.result else { Issue.record("\(run.result)"); return }
        #expect(readout.telegrams.count == 2 && run.timeouts == 1)
        #expect(run.written.map { $0[1] } == [0x40, 0x7B, 0x5B, 0x5B])
    }

    @Test func collisionsAndSilenceFailClearly() {
        // Two slaves with one primary address: their RSP_UDs overlap into garbage.
        var bus = MBusSimulatedSegment(slaves: [
            MBusSlaveSetup(primaryAddress: 9, identity: Self.twenty[0], map: Self.heatMap, turnaroundCharacters: 2),
            MBusSlaveSetup(primaryAddress: 9, identity: Self.twenty[1], map: Self.heatMap, turnaroundCharacters: 4),
        ], seed: 3)
        var session = MBusReadoutSession(target: .primary(9), options: MBusSessionOptions(retries: 1))
        let run = MeterSessionDriver.run(&session) { bus.respond(to: $0, at: Self.time) }
        guard case .failure(let error) = run.result else { Issue.record("read through a collision"); return }
        #expect(error.kind == .badCheck && error.detail.contains("primary address 9"))
        var quiet = MBusReadoutSession(target: .primary(77))
        guard case .failure(let timeout) = MeterSessionDriver.run(&quiet, respond: { _ in [] }).result else { Issue.record("no timeout"); return }
        #expect(timeout.kind == .timeout && timeout.detail.contains("2400 8E1"))
        var primaries = MBusPrimaryScanSession(addresses: [1, 2, 9, 10])
        var bus2 = bus
        guard case .success(let scan) = MeterSessionDriver.run(&primaries, respond: { bus2.respond(to: $0, at: Self.time) }).result else { return }
        #expect(scan.present == [] && scan.collisions == [9])
    }

    /// The line loop's M-Bus dispatch on a real PTY at 2400 8E1: SND_NKE gets E5, REQ_UD2 a RSP_UD.
    @Test func theSimulatorServesMBusOnAPseudoTerminal() throws {
        let directory = TemporaryDirectory("meter-sim-mbus")
        var config = SimulatorConfiguration(line: MBusSessionOptions.standardLine, meters: [], linkPath: directory.file("mbus"))
        config.mbus = MBusSegmentSetup(slaves: [MBusSlaveSetup(primaryAddress: 5, identity: Self.twenty[0], map: Self.heatMap)], echo: true)
        let bus = try SimulatedBus(configuration: config)
        try bus.start()
        defer { bus.stop() }
        let client = try LineClient(path: directory.file("mbus"))
        let nke = MBusFrame.short(control: MBusControl.sndNKE, address: 5).encode()
        let ack = client.exchange(nke, expected: nke.count + 1)
        #expect(ack.bytes == nke + [0xE5])
        let request = MBusFrame.short(control: 0x7B, address: 5).encode()
        let answer = client.exchange(request, quiet: .milliseconds(150))
        #expect(Array(answer.bytes.prefix(5)) == request)
        var splitter = MBusFrameSplitter()
        let events = splitter.push(Array(answer.bytes.dropFirst(5)))
        guard case .frame(.long(let c, 5, MBusCI.responseLongHeader, _))? = events.first else { Issue.record("no RSP_UD: \(events)"); return }
        #expect(c == MBusControl.rspUD)
        // 2400 baud 8E1: 11 bits a character, 4.58 ms; the RSP_UD takes its wire time.
        #expect(answer.elapsedMilliseconds > Double(answer.bytes.count) * 4.0)
    }
}
