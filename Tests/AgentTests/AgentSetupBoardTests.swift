import ConcentratorCore
import Foundation
import Testing
import TestSupport
@testable import Agent

/// `device.board`: the agent loads the board file with the configuration; a broken board file is a
/// configuration error (exit 78 in the CLI).
@Suite struct AgentSetupBoardTests {
    private func config(board: String?) -> String {
        let boardMember = board.map { #", "board": "\#($0)""# } ?? ""
        return """
        {"device": {"id": "gw-1"\(boardMember)},
         "buses": [{"name": "bus1", "device": "/tmp/concentrator-demo/bus1"}],
         "meters": []}
        """
    }

    @Test func theConfiguredBoardIsLoaded() throws {
        let setup = try AgentSetup.validate(text: config(board: BuiltProducts.packageRoot + "/Board/sim.json"), source: "t")
        #expect(setup.board?.id == "sim")
        #expect(try AgentSetup.validate(text: config(board: nil), source: "t").board == nil)
    }

    @Test func aBrokenOrMissingBoardFileIsAConfigurationError() throws {
        let dir = TemporaryDirectory("board")
        try #"{"id": "x", "name": "X", "serialPorts": [], "extra": 1}"#.write(toFile: dir.file("bad.json"), atomically: true, encoding: .utf8)
        do {
            _ = try AgentSetup.validate(text: config(board: dir.file("bad.json")), source: "t")
            Issue.record("a bad board file was accepted")
        } catch {
            guard case .boardInvalid(let failure) = error else { Issue.record("wrong error \(error)"); return }
            #expect(failure.issues.map(\.path) == ["$.serialPorts", "$.extra"])
        }
        do {
            _ = try AgentSetup.validate(text: config(board: dir.file("absent.json")), source: "t")
            Issue.record("a missing board file was accepted")
        } catch {
            guard case .boardUnreadable(let e) = error else { Issue.record("wrong error \(error)"); return }
            #expect(e.path == dir.file("absent.json"))
        }
    }
}
