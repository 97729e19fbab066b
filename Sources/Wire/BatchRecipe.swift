import ConcentratorCore
import FoundationEssentials

/// What an outbox entry will carry, stored as its payload until the uplink seals it (the archive
/// enqueues the entry in the same transaction as the snapshots it reports; sealing needs the entry's
/// sequence, so it comes after). Encoded as JSON: readable with `sqlite3` when debugging a gateway.
public enum BatchRecipe: Hashable, Sendable, Codable {
    /// Snapshots of `meters` for intervals starting in `from..<to` of one series.
    case snapshots(series: SeriesKind, from: Timestamp, to: Timestamp, meters: [MeterID], backfill: Bool)
    /// Events, sent as they are.
    case events([GatewayEvent])

    /// The outbox kind string for this recipe.
    public var outboxKind: String {
        switch self {
        case .snapshots(let series, _, _, _, let backfill): return (backfill ? "backfill-" : "") + series.rawValue
        case .events: return "events"
        }
    }

    /// Events go before interval data (Docs/mqtt-api.md, "Topics").
    public var priority: Int {
        if case .events = self { return 10 }
        return 0
    }

    public func encoded() -> [UInt8] {
        (try? Array(JSONEncoder().encode(self))) ?? []
    }

    public static func decode(_ bytes: [UInt8]) -> BatchRecipe? {
        try? JSONDecoder().decode(BatchRecipe.self, from: Data(bytes))
    }
}
