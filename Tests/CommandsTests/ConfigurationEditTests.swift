import ConcentratorCore
import Testing
@testable import Commands

/// JSON Merge Patch against the examples of RFC 7396, Appendix A, and the configuration edits made
/// by `meters.add` / `meters.remove`.
@Suite struct ConfigurationEditTests {
    static func parse(_ text: String) -> JSONValue { try! JSONParser.parse(text) }
    static func canonical(_ v: JSONValue) -> String { JSONWriter.render(v, pretty: false) }

    /// RFC 7396, Appendix A: (original, patch, result).
    static let appendixA: [(String, String, String)] = [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, #"null"#, #"null"#),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"e":null,"a":1}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ]

    @Test(arguments: appendixA.indices)
    func rfc7396AppendixA(_ i: Int) {
        let (original, patch, result) = Self.appendixA[i]
        #expect(Self.canonical(JSONMergePatch.apply(Self.parse(patch), to: Self.parse(original))) == result)
    }

    @Test func metersAreAddedOnceAndRemovedByID() throws {
        let config = Self.parse(#"{"device":{"id":"gw"},"meters":[{"id":"m-1","bus":"b","address":1,"profile":"p"}]}"#)
        let added = try ConfigurationEdit.addingMeters([Self.parse(#"{"id":"m-2","bus":"b","address":2,"profile":"p"}"#)], to: config)
        #expect(added["meters"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["m-1", "m-2"])
        #expect(added["device"] == config["device"], "the rest of the document stays as it was")
        #expect(throws: CommandRejection.self) {
            try ConfigurationEdit.addingMeters([Self.parse(#"{"id":"m-1","bus":"b","address":3,"profile":"p"}"#)], to: config)
        }
        let removed = ConfigurationEdit.removingMeters(["m-1"], from: added)
        #expect(removed["meters"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["m-2"])
        #expect(try JSONParser.parse(ConfigurationEdit.render(removed)) == JSONParser.parse(JSONWriter.render(removed, pretty: true)))
    }

    @Test func aTrialSurvivesItsFile() {
        let trial = ConfigTrial(commandID: "c-1", keyID: "a18112b0b7b4225f", appliedAt: Timestamp(milliseconds: 1_795_255_200_000),
                                deadline: Timestamp(milliseconds: 1_795_255_500_000), previousPath: "/etc/concentrator/config.json.previous")
        #expect(ConfigTrial.decode(trial.encoded()) == trial)
        #expect(ConfigTrial.decode(#"{"commandId":"c-1"}"#) == nil)
        #expect(ConfigTrial.decode("garbage") == nil)
    }
}
