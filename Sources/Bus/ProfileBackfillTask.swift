import ConcentratorCore
import MeterProtocols
import Platform

/// Reads intervals missing in the archive back from the meters' own load profiles (DLMS profile
/// generic objects by range, IEC 62056-21 P.01 in programming mode), for exactly the missing
/// intervals, after the gateway was down or a meter did not answer. What it reads is archived as
/// the series the profile fills and reported to the head-end as backfill.
///
/// One step is one piece: finding one meter's holes, one DLMS block (the association stays open
/// between steps, `DLMSProfileConversation` continues it), or one day of P.01. So an urgent read,
/// a command or a snapshot cycle waits at most one piece; if another session used the meter in
/// between (which ends a block transfer on most meters), the rest of the range is asked again.
final class ProfileBackfillTask: BusTask {
    let priority = BusTaskPriority.backfill
    private var meters: [Int]
    private var current: Int?
    private var work: [Piece] = []
    private var transfer: Transfer?
    private var filled: (count: Int, first: Timestamp?, last: Timestamp?, failed: Bool) = (0, nil, nil, false)

    /// Missing intervals of one series, at most one day of them, read in one request.
    struct Piece {
        var series: SeriesKind
        var lengthMinutes: Int
        var missing: [Timestamp]
    }

    /// A DLMS range read that yielded after a block.
    private struct Transfer {
        var piece: Piece
        var spec: DLMSLoadProfileSpec
        var generation: Int
        var continuation: DLMSProfileContinuation
    }

    init(meterIndices: [Int]) { meters = meterIndices }

    func step(_ bus: BusOwner) -> Bool {
        if let transfer, let index = current {
            self.transfer = nil
            continueTransfer(transfer, meter: bus.meters[index], bus: bus)
            return false
        }
        guard let index = current, !work.isEmpty else {
            if let index = current { finishMeter(bus.meters[index], bus: bus) }
            guard !meters.isEmpty else {
                bus.backfillQueued = false
                return true
            }
            current = meters.removeFirst()
            filled = (0, nil, nil, false)
            work = plan(bus.meters[current!], bus: bus)
            return false
        }
        let piece = work.removeFirst()
        let meter = bus.meters[index]
        if let dlms = meter.dlms {
            startTransfer(piece, meter: meter, link: dlms, bus: bus)
        } else if let iec = meter.iec {
            readP01(piece, meter: meter, link: iec, bus: bus)
        }
        return false
    }

    func abandon(_ error: BusError) {}

    // MARK: Planning

    /// The meter's holes per series, in pieces of at most a day (oldest first).
    private func plan(_ meter: PolledMeter, bus: BusOwner) -> [Piece] {
        let now = bus.clock.now()
        var pieces: [Piece] = []
        for series in [SeriesKind.interval, .profile] {
            guard let minutes = bus.lengthMinutes(of: series), meter.backfills(series, lengthMinutes: minutes) else { continue }
            let schedule = IntervalSchedule(minutes: minutes)
            let from = now.adding(seconds: -Int64(bus.schedule.archive.retentionDays) * 86_400)
            // The latest boundary is the snapshot cycle's while a cycle (or a catch-up after a
            // restart) still takes it; past that window nobody will, and the profile fills it.
            let latest = schedule.start(containing: now)
            let to = now.milliseconds - latest.milliseconds <= bus.schedule.catchUpMilliseconds ? latest : latest.adding(milliseconds: 1)
            let missing: [Timestamp]
            do {
                missing = try bus.sink.missingIntervals(meter: meter.id, series: series, lengthMinutes: minutes, from: from, to: to)
            } catch {
                bus.logger.warning("backfill: cannot look for missing intervals of \(meter.id): \(error)")
                filled.failed = true
                continue
            }
            var day: [Timestamp] = []
            for t in missing {
                if let first = day.first, t.milliseconds - first.milliseconds >= 86_400_000 {
                    pieces.append(Piece(series: series, lengthMinutes: minutes, missing: day))
                    day = []
                }
                day.append(t)
            }
            if !day.isEmpty { pieces.append(Piece(series: series, lengthMinutes: minutes, missing: day)) }
        }
        if !pieces.isEmpty {
            let count = pieces.reduce(0) { $0 + $1.missing.count }
            bus.logger.info("backfill: meter \(meter.id) lacks \(count) intervals from \(pieces[0].missing[0]); reading them from its load profile")
        }
        return pieces
    }

    private func finishMeter(_ meter: PolledMeter, bus: BusOwner) {
        current = nil
        if !filled.failed { meter.needsBackfill = false }
        guard filled.count > 0, let first = filled.first, let last = filled.last else { return }
        let message = "\(filled.count) missing intervals \(first) – \(last) read back from the meter's load profile"
        bus.logger.notice("meter \(meter.id): \(message)")
        bus.onEvent(GatewayEvent(time: bus.clock.now(), kind: .meterBackfilled, severity: .info, bus: bus.name, meter: meter.id,
                                 message: message))
    }

    /// Gives up on the meter's remaining pieces (it stopped answering); they are tried again after
    /// the next cycle in which it answers.
    private func fail(_ meter: PolledMeter, _ error: String, bus: BusOwner) {
        bus.logger.warning("backfill: meter \(meter.id): \(error); the remaining intervals are read later")
        work = []
        filled.failed = true
    }

    // MARK: DLMS

    private func startTransfer(_ piece: Piece, meter: PolledMeter, link: DLMSMeterLink, bus: BusOwner) {
        guard let spec = link.loadProfile(for: piece.series, lengthMinutes: piece.lengthMinutes) else { return }
        let exchange: DLMSBusExchange
        switch DLMSBusExchange.open(bus: bus, meter: meter, link: link) {
        case .success(let e): exchange = e
        case .failure(let f): return fail(meter, f.portFailure ?? f.error.description, bus: bus)
        }
        let restricting = spec.captureObjects.first(where: \.isClock).map {
            COSEMProfile.CaptureObject(classID: $0.classID, logicalName: COSEMLogicalName($0.logicalName), attribute: $0.attribute)
        } ?? .clockTime
        let access = COSEMProfile.range(from: piece.missing.first!, to: piece.missing.last!, restricting: restricting)
        let conversation = DLMSProfileConversation(profile: COSEMLogicalName(spec.logicalName), access: access)
        handle(exchange.run(conversation, counters: 8), exchange: exchange, piece: piece, spec: spec, meter: meter, bus: bus)
    }

    private func continueTransfer(_ t: Transfer, meter: PolledMeter, bus: BusOwner) {
        guard let link = meter.dlms, let exchange = DLMSBusExchange.resume(bus: bus, meter: meter, link: link, generation: t.generation) else {
            // Another session used the meter: the block transfer is gone; ask for the rest again.
            if !t.piece.missing.isEmpty { work.insert(t.piece, at: 0) }
            return
        }
        handle(exchange.run(DLMSProfileConversation(continuing: t.continuation), counters: 8), exchange: exchange, piece: t.piece,
               spec: t.spec, meter: meter, bus: bus)
    }

    private func handle(_ result: Result<DLMSProfileChunk, MeterSessionError>, exchange: DLMSBusExchange, piece: Piece,
                        spec: DLMSLoadProfileSpec, meter: PolledMeter, bus: BusOwner) {
        let chunk: DLMSProfileChunk
        switch result {
        case .success(let c): chunk = c
        case .failure(let e):
            exchange.release()
            return fail(meter, e.description, bus: bus)
        }
        if let refusal = chunk.accessFailure {
            exchange.release()
            return fail(meter, "the meter refused the load profile read (data-access-result \(refusal))", bus: bus)
        }
        let rows = DLMSLoadProfileDecoding.rows(chunk.rows, spec: spec).rows.map { (time: $0.time, values: $0.values) }
        var rest = piece
        store(rows, piece: &rest, meter: meter, bus: bus)
        if let continuation = chunk.continuation, !rest.missing.isEmpty {
            transfer = Transfer(piece: rest, spec: spec, generation: exchange.keepOpen(), continuation: continuation)
        } else {
            exchange.release()
        }
    }

    // MARK: IEC 62056-21

    private func readP01(_ piece: Piece, meter: PolledMeter, link: IECMeterLink, bus: BusOwner) {
        guard let spec = link.profile.loadProfile else { return }
        let password: [UInt8]?
        switch link.password(bus.services) {
        case .success(let p): password = p
        case .failure(let e): return fail(meter, e.description, bus: bus)
        }
        var session = IECSessions.loadProfile(link: link.options, password: password, spec: spec,
                                              from: link.zone.meterTime(at: piece.missing.first!),
                                              to: link.zone.meterTime(at: piece.missing.last!))
        switch IECMeterReader.run(&session, meter: meter, bus: bus).result {
        case .success(let profile):
            let counters = Set(spec.channels.filter { $0.kind == .counter }.map(\.quantity))
            let rows = IECValueMapping.samples(profile, spec: spec, zone: link.zone).map { sample in
                (time: sample.time, values: sample.values.filter { counters.contains($0.quantity) })
            }
            var rest = piece
            store(rows, piece: &rest, meter: meter, bus: bus)
        case .failure(let e):
            fail(meter, e.description, bus: bus)
        }
    }

    // MARK: Storing

    /// Archives the rows that fall on missing intervals and takes them off `piece`.
    private func store(_ rows: [(time: Timestamp, values: [QuantityValue])], piece: inout Piece, meter: PolledMeter, bus: BusOwner) {
        let wanted = Set(piece.missing)
        var snapshots: [MeterSnapshot] = []
        for row in rows where wanted.contains(row.time) && !row.values.isEmpty {
            snapshots.append(MeterSnapshot(meter: meter.id, intervalStart: row.time, gatewayTime: bus.clock.now(),
                                           clockUnsynced: !bus.clockSynchronised(), values: row.values))
        }
        let done = Set(snapshots.map(\.intervalStart))
        // Rows come in time order: every missing interval up to the newest row is settled (a row the
        // meter does not have, e.g. it was off, will not come later in this read either).
        if let newest = rows.last?.time { piece.missing.removeAll { $0 <= newest } }
        piece.missing.removeAll { done.contains($0) }
        guard !snapshots.isEmpty else { return }
        do {
            try bus.sink.storeBackfill(bus: bus.name, series: piece.series, lengthMinutes: piece.lengthMinutes, snapshots: snapshots)
            filled.count += snapshots.count
            filled.first = min(filled.first ?? snapshots[0].intervalStart, snapshots[0].intervalStart)
            filled.last = max(filled.last ?? snapshots[snapshots.count - 1].intervalStart, snapshots[snapshots.count - 1].intervalStart)
        } catch {
            bus.logger.error("backfill: could not store \(snapshots.count) intervals of \(meter.id): \(error); they are read again later")
            filled.failed = true
            work = []
        }
    }
}

extension BusOwner {
    /// Queues a backfill of the meters that need one and can give one (a load profile of their own),
    /// unless one is queued already. At start every such meter is looked at; after a cycle, those
    /// that left a hole and answer again.
    func scheduleBackfill(onlyAnswering: Bool) {
        guard schedule.takesSnapshots, schedule.backfillsFromMeterProfiles, !backfillQueued else { return }
        let indices = meters.indices.filter { i in
            let m = meters[i]
            guard m.needsBackfill, m.dlms != nil || m.iec != nil else { return false }
            guard [SeriesKind.interval, .profile].contains(where: { s in lengthMinutes(of: s).map { m.backfills(s, lengthMinutes: $0) } ?? false }) else {
                return false
            }
            return !onlyAnswering || m.health.state == .online || m.health.state == .degraded
        }
        guard !indices.isEmpty else { return }
        backfillQueued = true
        enqueue(ProfileBackfillTask(meterIndices: indices))
    }
}
