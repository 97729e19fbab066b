import ConcentratorCore
import Wire

/// How both stores keep a snapshot: its key (device, series, interval start, meter), its layout (the
/// ordered quantity names, stored once and numbered) and its times, clock flag and values in the
/// archive's lossless snapshot encoding (`SnapshotCodec`). One place, so both stores hold the same
/// bytes and export the same text.
enum StoredSnapshotRow {
    /// The series number stored in the `series` column.
    static func seriesNumber(_ series: SeriesKind) -> Int64 { series == .interval ? 0 : 1 }

    static func series(_ number: Int64) -> SeriesKind { number == 0 ? .interval : .profile }

    /// The layout's text form: quantity names joined by `,`.
    static func layoutText(_ quantities: [QuantityID]) -> String { quantities.map(\.rawValue).joined(separator: ",") }

    static func quantities(layoutText text: String) -> [QuantityID] {
        text.isEmpty ? [] : text.split(separator: ",").map { QuantityID(String($0)) }
    }

    /// The stored bytes of `snapshot` (everything but its key and layout).
    static func data(_ snapshot: MeterSnapshot) -> [UInt8] {
        SnapshotCodec.encode(SnapshotRowPayload(
            gatewayOffsetMilliseconds: snapshot.gatewayTime.milliseconds &- snapshot.intervalStart.milliseconds,
            meterTimeOffsetMilliseconds: snapshot.meterTime.map { $0.milliseconds &- snapshot.gatewayTime.milliseconds },
            clockUnsynced: snapshot.clockUnsynced, slots: snapshot.values.map(StoredValue.init)))
    }

    /// The snapshot read back from its key, layout and stored bytes.
    static func snapshot(meter: MeterID, intervalStart: Timestamp, quantities: [QuantityID], data: [UInt8]) throws -> MeterSnapshot {
        let payload = try SnapshotCodec.decode(data, valueCount: quantities.count)
        let gateway = Timestamp(milliseconds: intervalStart.milliseconds &+ payload.gatewayOffsetMilliseconds)
        let values = zip(quantities, payload.slots).map { quantity, slot -> QuantityValue in
            switch slot {
            case .value(let v): return QuantityValue(quantity: quantity, value: v)
            case .error(let e): return QuantityValue(quantity: quantity, error: e)
            case .missing:
                var q = QuantityValue(quantity: quantity, value: 0)
                q.value = nil
                return q
            }
        }
        return MeterSnapshot(meter: meter, intervalStart: intervalStart, gatewayTime: gateway,
                             meterTime: payload.meterTimeOffsetMilliseconds.map { Timestamp(milliseconds: gateway.milliseconds &+ $0) },
                             clockUnsynced: payload.clockUnsynced, values: values)
    }

    /// Why `content` cannot be stored, or nil. The snapshot encoding keeps gateway times within
    /// ±2^60 ms of their interval start (36 million years; anything beyond is a broken clock).
    static func unstorableReason(_ content: BatchContent) -> String? {
        guard case .snapshots(_, _, let snapshots) = content else { return nil }
        for s in snapshots {
            let (offset, overflow) = s.gatewayTime.milliseconds.subtractingReportingOverflow(s.intervalStart.milliseconds)
            if overflow || offset.magnitude > 1 << 60 {
                return "meter \(s.meter): gateway time \(s.gatewayTime.milliseconds) ms is too far from its interval start "
                    + "\(s.intervalStart.milliseconds) ms"
            }
        }
        return nil
    }

    /// What a stored batch contributes to the fleet list: snapshots, values, and clock figures.
    static func clock(of content: BatchContent) -> BatchClockQuality? {
        guard case .snapshots(_, _, let snapshots) = content else { return nil }
        return BatchClockQuality(snapshots)
    }
}
