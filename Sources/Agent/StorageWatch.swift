import Archive
import ConcentratorCore

/// Watches the free space on the state directory's file system and the archive's disk reserve, and
/// says when to raise `storage_low` (below `archive.storageLowFreeBytes`, before writes fail; and
/// again, critical, when the disk filled up and the reserve was given to the events about it) and
/// when the space is back (`archive_recovered`). One event per change, never one per check.
struct StorageWatch {
    let directory: String
    let threshold: Int64
    private(set) var low = false
    private var reserve = StorageReserveState.none

    init(directory: String, threshold: Int64) {
        self.directory = directory
        self.threshold = threshold
    }

    /// The events for the free space and reserve state seen now.
    mutating func check(freeBytes: Int64?, reserve now: StorageReserveState, at time: Timestamp) -> [GatewayEvent] {
        var events: [GatewayEvent] = []
        if let free = freeBytes {
            if !low, free < threshold {
                low = true
                events.append(GatewayEvent(time: time, kind: .storageLow, severity: .warning, message:
                    "free space on \(directory) is \(free / 1024) KiB, below archive.storageLowFreeBytes (\(threshold / 1024) KiB); "
                    + "free some space or the archive will stop storing readings"))
            } else if low, free >= threshold + threshold / 8, now != .released {
                low = false
                events.append(GatewayEvent(time: time, kind: .archiveRecovered, severity: .info, message:
                    "free space on \(directory) is back to \(free / 1024) KiB"))
            }
        }
        if now == .released, reserve != .released {
            events.append(GatewayEvent(time: time, kind: .storageLow, severity: .critical, message:
                "the disk holding \(directory) is full: the archive released its reserve so that events about the disk "
                + "can be stored and sent; readings not stored are kept in memory and retried"))
        }
        reserve = now
        return events
    }
}
