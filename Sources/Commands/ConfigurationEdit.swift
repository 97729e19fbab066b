import ConcentratorCore
import Wire

/// JSON Merge Patch (RFC 7396): members of the patch replace the target's, `null` removes a member,
/// objects merge recursively, anything else replaces. Member order is kept; new members go last. Pure.
public enum JSONMergePatch {
    public static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard let patchMembers = patch.members else { return patch }
        var members = target.members ?? []
        for p in patchMembers {
            let index = members.firstIndex { $0.key == p.key }
            if case .null = p.value {
                if let index { members.remove(at: index) }
            } else if let index {
                members[index].value = apply(p.value, to: members[index].value)
            } else {
                members.append(JSONMember(key: p.key, value: apply(p.value, to: .null)))
            }
        }
        return .object(members)
    }
}

/// Edits of the configuration document made by commands (`config.set`, `meters.add`, `meters.remove`).
/// Pure: JSON in, JSON out; the agent validates the result with the same validator as at start.
public enum ConfigurationEdit {
    /// The document after `change`.
    public static func applying(_ change: ConfigChange, to current: JSONValue) -> JSONValue {
        switch change {
        case .document(let document): return document
        case .mergePatch(let patch): return JSONMergePatch.apply(patch, to: current)
        }
    }

    /// The document with `meters` appended to its `meters` array; an id already configured is refused.
    public static func addingMeters(_ meters: [JSONValue], to current: JSONValue) throws(CommandRejection) -> JSONValue {
        let existing = current["meters"]?.arrayValue ?? []
        let ids = Set(existing.compactMap { $0["id"]?.stringValue })
        for (i, meter) in meters.enumerated() {
            guard let id = meter["id"]?.stringValue else {
                throw CommandRejection(.invalidArguments, "$.args.meters[\(i)].id: missing; every meter needs an id")
            }
            if ids.contains(id) {
                throw CommandRejection(.invalidArguments, "$.args.meters[\(i)].id: meter \(id) is already configured (remove it first)")
            }
        }
        return replacing("meters", with: .array(existing + meters), in: current)
    }

    /// The document without the meters `ids`.
    public static func removingMeters(_ ids: [MeterID], from current: JSONValue) -> JSONValue {
        let names = Set(ids.map(\.rawValue))
        let kept = (current["meters"]?.arrayValue ?? []).filter { !names.contains($0["id"]?.stringValue ?? "") }
        return replacing("meters", with: .array(kept), in: current)
    }

    /// The text written to the configuration file: two-space indented JSON and a final newline.
    public static func render(_ document: JSONValue) -> String { JSONWriter.render(document, pretty: true) + "\n" }

    private static func replacing(_ key: String, with value: JSONValue, in document: JSONValue) -> JSONValue {
        var members = document.members ?? []
        if let i = members.firstIndex(where: { $0.key == key }) { members[i].value = value } else {
            members.append(JSONMember(key: key, value: value))
        }
        return .object(members)
    }
}

/// A configuration applied by command that must prove itself: unless a head-end ack arrives before
/// `deadline`, the agent restores the file kept at `previousPath`. Persisted as JSON in the state
/// directory (`config-trial.json`), so a trial survives a restart of the agent.
public struct ConfigTrial: Hashable, Sendable {
    public static let fileName = "config-trial.json"

    /// The command that applied the configuration, and the key that signed it (to amend its reply).
    public var commandID: String
    public var keyID: String
    public var appliedAt: Timestamp
    public var deadline: Timestamp
    /// Where the configuration in force before the change was kept.
    public var previousPath: String

    public init(commandID: String, keyID: String, appliedAt: Timestamp, deadline: Timestamp, previousPath: String) {
        self.commandID = commandID
        self.keyID = keyID
        self.appliedAt = appliedAt
        self.deadline = deadline
        self.previousPath = previousPath
    }

    public func encoded() -> String {
        JSONWriter.render(.object([
            JSONMember(key: "appliedAt", value: CanonicalJSON.integer(appliedAt.milliseconds)),
            JSONMember(key: "commandId", value: .string(commandID)),
            JSONMember(key: "deadline", value: CanonicalJSON.integer(deadline.milliseconds)),
            JSONMember(key: "keyId", value: .string(keyID)),
            JSONMember(key: "previous", value: .string(previousPath)),
        ]), pretty: true) + "\n"
    }

    /// Parses the state file; nil for anything but a complete trial (a damaged file is reported by the caller).
    public static func decode(_ text: String) -> ConfigTrial? {
        guard let json = try? JSONParser.parse(text),
              let commandID = json["commandId"]?.stringValue, let keyID = json["keyId"]?.stringValue,
              case .number(_, let applied)? = json["appliedAt"], let appliedAt = Int64(applied),
              case .number(_, let due)? = json["deadline"], let deadline = Int64(due),
              let previous = json["previous"]?.stringValue else { return nil }
        return ConfigTrial(commandID: commandID, keyID: keyID, appliedAt: Timestamp(milliseconds: appliedAt),
                           deadline: Timestamp(milliseconds: deadline), previousPath: previous)
    }
}
