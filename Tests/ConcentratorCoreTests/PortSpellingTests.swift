import Testing
@testable import ConcentratorCore

private typealias F = ConfigurationFixtures

/// Issue 17 #10: one port under two spellings is one port. Before the fix `/dev//ttyS1` and
/// `/dev/../dev/ttyS1` passed validation beside `/dev/ttyS1`, and one bus was dead at run time.
@Suite struct PortSpellingTests {
    @Test(arguments: ["/dev//ttyS1", "/dev/../dev/ttyS1", "/dev/./ttyS1", "/dev/ttyS1/", "//dev/ttyS1"])
    func aSecondSpellingOfThePortIsADuplicate(_ spelling: String) throws {
        let buses = #"[{"name": "bus1", "device": "/dev/ttyS1"}, {"name": "bus2", "device": "\#(spelling)"}]"#
        let issues = try #require(F.issues(F.document(buses: buses)), "\(spelling) accepted beside /dev/ttyS1")
        let issue = try #require(issues.first { $0.path == "$.buses[1].device" }, "\(issues)")
        #expect(issue.problem.contains("port already used by bus \"bus1\""), "\(issue)")
    }

    @Test func aPortLinkResolvedByTheContextIsADuplicateOfItsTarget() throws {
        var context = F.context
        context.resolvedPaths = ["/dev/serial/by-id/usb-rs485": "/dev/ttyUSB0"]
        let buses = #"[{"name": "bus1", "device": "/dev/serial/by-id/usb-rs485"}, {"name": "bus2", "device": "/dev/ttyUSB0"}]"#
        do {
            _ = try ConfigurationLoader.load(text: F.document(buses: buses), source: "t", context: context)
            Issue.record("a udev link and its target accepted as two ports")
        } catch {
            #expect(error.issues.contains { $0.path == "$.buses[1].device" && $0.problem.contains("port already used") }, "\(error)")
        }
    }

    @Test func differentPortsStayDifferent() {
        #expect(F.issues(F.document(buses: #"[{"name": "bus1", "device": "/dev/ttyS1"}, {"name": "bus2", "device": "/dev/ttyS10"}]"#)) == nil)
    }
}
