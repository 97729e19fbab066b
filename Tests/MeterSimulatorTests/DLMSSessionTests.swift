import Testing
import ConcentratorCore
import MeterProtocols
@testable import MeterSimulator

/// The client sessions of MeterProtocols against the simulated DLMS meter, in memory (bytes in,
/// bytes out, answers cut into small pieces), for every security level and the faults.
@Suite struct DLMSSessionTests {
    static func get(_ r: Result<DLMSAssociation, MeterSessionError>) throws -> DLMSAssociation {
        switch r {
        case .success(let a): return a
        case .failure(let e): throw e
        }
    }

    @Test(arguments: ["none", "lls", "hls"])
    func readsRegistersAtEverySecurityLevel(_ level: String) throws {
        var line = InMemoryDLMSLine(server: DLMSTestProfiles.server())
        let security: DLMSClientSecurity = level == "none" ? .none : (level == "lls" ? .lowLevel(password: DLMSTestProfiles.password) : DLMSTestProfiles.hls)
        var a = try Self.get(line.associate(DLMSTestProfiles.settings(security, client: level == "none" ? 16 : 1)))
        #expect(a.associated && line.server.isAssociated)
        let objects = DLMSTestProfiles.meter.dlms!.objects
        let plan = DLMSReadPlan(objects: objects)
        // Voltage has a profile override; the other four need their scaler_unit first.
        #expect(plan.operations.count == 9)
        let results = try line.perform(plan.operations, on: &a).get()
        let read = plan.values(from: results)
        #expect(read.scalerUnits.count == 4)
        #expect(read.scalerUnits[COSEMLogicalName(1, 0, 1, 8, 0, 255)] == COSEMScalerUnit(scaler: 0, unit: 30))
        let served = line.records.compactMap(\.values).flatMap { $0 }
        #expect(read.values.count == objects.count)
        for value in read.values {
            let expected = try #require(served.last { $0.quantity == value.quantity }, "\(value.quantity) served")
            #expect(value.value == expected.value, "\(value.quantity)")
        }
        #expect((200.0...260.0).contains(read.values[2].value ?? 0), "voltage in volts")
        // A second read with the cached scaler_units asks only for the values.
        #expect(DLMSReadPlan(objects: objects, known: read.scalerUnits).operations.count == 5)
        if level == "hls" {
            let ics = line.server.seenInvocationCounters
            #expect(ics.sorted() == Array(1...UInt32(ics.count)), "every ciphered request and f(StoC) used the next reserved counter, none twice")
            #expect(a.cipher?.nextInvocationCounter == UInt32(ics.count) + 1)
            #expect(line.records.contains { $0.invocationCounter != nil })
        }
        // Release: RLRQ/RLRE then DISC.
        var release = DLMSSession(DLMSReleaseConversation(), association: a)
        let released = try line.run(&release).get()
        #expect(!released.association.linkConnected && !line.server.isAssociated)
    }

    @Test func wrongPasswordAndWrongKeyAreSecurityFailures() {
        var line = InMemoryDLMSLine(server: DLMSTestProfiles.server())
        guard case .failure(let lls) = line.associate(DLMSTestProfiles.settings(.lowLevel(password: Array("wrong".utf8)), client: 32)) else {
            Issue.record("wrong password accepted"); return
        }
        #expect(lls.kind == .security)
        let wrong = DLMSClientSecurity.highLevelGMAC(keys: DLMSTestProfiles.otherKeys, clientSystemTitle: DLMSTestProfiles.clientTitle)
        guard case .failure(let hls) = line.associate(DLMSTestProfiles.settings(wrong, client: 1)) else { Issue.record("wrong key accepted"); return }
        #expect(hls.kind == .security)
        #expect(!hls.detail.contains("101112") && !hls.description.contains("16, 17, 18"))
        // A public client may not ask for LLS-free access under another client address.
        guard case .failure(let anonymous) = line.associate(DLMSTestProfiles.settings(.none, client: 1)) else { Issue.record("accepted"); return }
        #expect(anonymous.kind == .security)
    }

    @Test func wrongAuthenticationKeyFailsAtHLSPassThree() {
        // Same block cipher key, other authentication key: the AARQ deciphers, f(StoC) does not verify.
        var options = DLMSSimulatorOptions()
        options.defaultKeys = DLMSSecurityKeys(encryption: DLMSTestProfiles.keys.encryption, authentication: DLMSKey(Array(0xA0...0xAF))!)
        let server = try! DLMSMeterServer(setup: SimulatedMeterSetup(address: 17, profile: DLMSTestProfiles.meter), options: options, seed: 1)
        var line = InMemoryDLMSLine(server: server)
        guard case .failure(let e) = line.associate(DLMSTestProfiles.settings(DLMSTestProfiles.hls, client: 1)) else { Issue.record("accepted"); return }
        #expect(e.kind == .security)
    }

    @Test func replayedInvocationCountersAreRefusedAndRecorded() throws {
        var line = InMemoryDLMSLine(server: DLMSTestProfiles.server())
        var a = try Self.get(line.associate(DLMSTestProfiles.settings(DLMSTestProfiles.hls, client: 1), counters: 100...200))
        _ = try line.perform(DLMSOperations.readClock(), on: &a).get()
        let used = a.cipher!.nextInvocationCounter
        // A client that lost its counter starts again from 100: the meter refuses the replay.
        guard case .failure(let e) = line.associate(DLMSTestProfiles.settings(DLMSTestProfiles.hls, client: 1), counters: 100...200) else {
            Issue.record("replay accepted"); return
        }
        #expect(e.kind == .security)
        #expect(line.server.replays == 1)
        // From the persisted mark on, it works again.
        var b = try Self.get(line.associate(DLMSTestProfiles.settings(DLMSTestProfiles.hls, client: 1), counters: used...(used + 50)))
        _ = try line.perform(DLMSOperations.readClock(), on: &b).get()
        let seen = line.server.seenInvocationCounters
        #expect(seen.filter { $0 == 100 }.count == 2, "the replay is in the record")
        #expect(Set(seen).count == seen.count - 1)
    }

    @Test func invocationCounterReservationIsNeverExceeded() throws {
        var line = InMemoryDLMSLine(server: DLMSTestProfiles.server())
        var a = try Self.get(line.associate(DLMSTestProfiles.settings(DLMSTestProfiles.hls, client: 1), counters: 1...4))
        // The association used 1 (AARQ), 2 (inside f(StoC)) and 3 (the ACTION carrying it); one
        // more request fits, the next does not.
        _ = try line.perform(DLMSOperations.readClock(), on: &a).get()
        guard case .failure(let e) = line.perform(DLMSOperations.readClock(), on: &a) else { Issue.record("went past the reservation"); return }
        #expect(e.kind == .security)
        #expect(line.server.seenInvocationCounters == [1, 3, 2, 4])
        a.extendReservation(through: 10)
        _ = try line.perform(DLMSOperations.readClock(), on: &a).get()
        #expect(line.server.seenInvocationCounters.last == 5)
    }

    @Test(arguments: [(1, 128, "none"), (3, 40, "none"), (2, 48, "hls"), (7, 32, "hls")])
    func readsALoadProfileByRangeInBlocksAndSegments(_ window: Int, _ maxInfo: Int, _ level: String) throws {
        let limits = DLMSMeterLimits(hdlc: HDLCParameters(maxInfoTransmit: maxInfo, maxInfoReceive: maxInfo, windowTransmit: window, windowReceive: window),
                                     maxPDUSize: 256)
        var line = InMemoryDLMSLine(server: DLMSTestProfiles.server(limits: limits))
        let proposal = HDLCParameters(maxInfoTransmit: 128, maxInfoReceive: 128, windowTransmit: 7, windowReceive: 7)
        let security = level == "hls" ? DLMSTestProfiles.hls : .none
        var a = try Self.get(line.associate(DLMSTestProfiles.settings(security, client: level == "hls" ? 1 : 16, hdlc: proposal)))
        #expect(a.negotiated.maxInfoReceive == maxInfo && a.negotiated.windowReceive == window)
        let from = ISO8601.parse("2026-11-20T00:00:00Z")!, to = ISO8601.parse("2026-11-21T06:00:00Z")!
        let read = try line.readProfile(COSEMLogicalName(1, 0, 99, 1, 0, 255), from: from, to: to, on: &a).get()
        #expect(read.rows.count == 30 * 4 + 1, "every quarter hour from 00:00 to 06:00 next day")
        #expect(read.steps > 3, "the read yielded between blocks")
        let spec = DLMSTestProfiles.meter.dlms!.loadProfiles[0]
        let decoded = DLMSLoadProfileDecoding.rows(read.rows, spec: spec)
        #expect(decoded.skipped == 0)
        #expect(decoded.rows.first?.time == from && decoded.rows.last?.time == to)
        let energies = decoded.rows.compactMap { $0.values.first?.value }
        #expect(energies.count == decoded.rows.count)
        #expect(zip(energies, energies.dropFirst()).allSatisfy { $0 <= $1 }, "import energy only grows")
        // The same rows as the meter's own buffer.
        #expect(read.rows.map { DLMSData.structure($0) } == line.server.objects.buffer(spec, access: COSEMProfile.range(from: from, to: to), at: line.time))
    }

    @Test func clientSegmentsLongRequests() throws {
        // The meter receives at most 32 bytes per frame: the HLS AARQ goes in several segments.
        let limits = DLMSMeterLimits(hdlc: HDLCParameters(maxInfoTransmit: 128, maxInfoReceive: 32, windowTransmit: 1, windowReceive: 1))
        var line = InMemoryDLMSLine(server: DLMSTestProfiles.server(limits: limits))
        var a = try Self.get(line.associate(DLMSTestProfiles.settings(DLMSTestProfiles.hls, client: 1)))
        #expect(a.negotiated.maxInfoTransmit == 32)
        #expect(line.transmissions >= 6, "SNRM, then the AARQ and the HLS ACTION in several segments each")
        let clock = try line.perform(DLMSOperations.readClock(), on: &a).get()
        #expect(DLMSOperations.clock(from: clock)?.timestamp == line.time)
    }

    @Test func clockReadAndSet() throws {
        var line = InMemoryDLMSLine(server: DLMSTestProfiles.server())
        var a = try Self.get(line.associate(DLMSTestProfiles.settings(DLMSTestProfiles.hls, client: 1)))
        let target = line.time.adding(seconds: -300)
        #expect(DLMSOperations.succeeded(try line.perform(DLMSOperations.setClock(target), on: &a).get()))
        line.time = line.time.adding(seconds: 60)
        let read = try line.perform(DLMSOperations.readClock(), on: &a).get()
        #expect(DLMSOperations.clock(from: read)?.timestamp == target.adding(seconds: 60))
        // Writing a register is refused as a result, not a failure.
        let refused = try line.perform([.set(COSEMAttribute(classID: 3, logicalName: COSEMLogicalName(1, 0, 1, 8, 0, 255), attribute: 2), .doubleLongUnsigned(0))], on: &a).get()
        #expect(refused == [.accessFailure(3)])
    }

    @Test func disconnectAndReconnect() throws {
        var line = InMemoryDLMSLine(server: DLMSTestProfiles.server())
        var a = try Self.get(line.associate(DLMSTestProfiles.settings(DLMSTestProfiles.hls, client: 1)))
        let off = try line.perform(DLMSOperations.switchSupply(connect: false), on: &a).get()
        #expect(DLMSOperations.disconnectState(from: off) == DLMSDisconnectState(connected: false, controlState: 0))
        #expect(!line.server.objects.meter.supply.isConnected)
        let on = try line.perform(DLMSOperations.switchSupply(connect: true), on: &a).get()
        #expect(DLMSOperations.disconnectState(from: on) == DLMSDisconnectState(connected: true, controlState: 1))
        #expect(line.server.objects.meter.supply.isConnected)
    }

    @Test func faults() throws {
        var line = InMemoryDLMSLine(server: DLMSTestProfiles.server(limits: DLMSMeterLimits(maxPDUSize: 200)))
        var a = try Self.get(line.associate(DLMSTestProfiles.settings(.none)))
        line.fault = .badCRC
        guard case .failure(let bad) = line.perform(DLMSOperations.readClock(), on: &a) else { Issue.record("bad FCS accepted"); return }
        #expect(bad.kind == .badCheck)
        line.fault = .none
        a = try Self.get(line.associate(DLMSTestProfiles.settings(.none)))
        line.fault = .exception(2)
        guard case .failure(let refused) = line.perform(DLMSOperations.readClock(), on: &a) else { Issue.record("exception accepted"); return }
        #expect(refused.kind == .refused)
        line.fault = .silence
        guard case .failure(let silent) = line.perform(DLMSOperations.readClock(), on: &a) else { Issue.record("silence accepted"); return }
        #expect(silent.kind == .timeout)
        line.fault = .none
        a = try Self.get(line.associate(DLMSTestProfiles.settings(.none)))
        line.fault = .dropAssociation
        guard case .failure(let dropped) = line.readProfile(COSEMLogicalName(1, 0, 99, 1, 0, 255), from: line.time.adding(seconds: -86_400), to: line.time, on: &a) else {
            Issue.record("the dropped association went unnoticed"); return
        }
        #expect(dropped.kind == .aborted)
        #expect(!a.linkConnected && !a.associated)
    }

    @Test func oneLostAnswerIsRecoveredByAnRRPoll() throws {
        var line = InMemoryDLMSLine(server: DLMSTestProfiles.server())
        var a = try Self.get(line.associate(DLMSTestProfiles.settings(.none)))
        // The meter answers, the answer is lost on the line; the client's RR poll makes it repeat.
        var session = DLMSSession(DLMSServiceConversation(DLMSOperations.readClock()), association: a)
        guard case .transmit(let request, _, _) = session.start() else { Issue.record("no request"); return }
        var splitter = HDLCFrameSplitter()
        let frame = try #require(splitter.append(request).first)
        let lost = line.server.handle(frame, at: line.time, fault: .none).bytes
        #expect(lost != nil)
        guard case .transmit(let poll, _, _) = session.timedOut() else { Issue.record("no retry"); return }
        #expect(try HDLCFrame.decode(poll).control == .receiveReady(receive: 1, final: true))
        let repeated = line.server.handle(poll, at: line.time, fault: .none).bytes
        #expect(repeated == lost)
        guard case .finished(let outcome) = session.received(repeated ?? []) else { Issue.record("not recovered"); return }
        #expect(DLMSOperations.clock(from: outcome.value)?.timestamp == line.time)
        a = outcome.association
        #expect(a.associated)
    }
}
