import ConcentratorCore
import FoundationEssentials

/// `status` (reader): the same status document as `concentrator status --json`.
enum StatusVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.reader

    static func parse(_ arguments: CommandArguments) -> CommandAction? { .status }

    static func run(on device: any CommandDevice) -> CommandOutcome {
        CommandOutcome(message: "status", result: encodedJSON(device.status()))
    }

    /// `value` as JSON with sorted keys (the status model is Codable).
    private static func encodedJSON<T: Encodable>(_ value: T) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value), let json = try? JSONParser.parse(Array(data)) else { return .object([]) }
        return json
    }
}
