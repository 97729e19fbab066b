import Foundation
import Testing
@testable import Platform

/// Children started by ProgramSpawner: output and exit status come back, a timeout kills, stdin is /dev/null, no
/// signal stays blocked, and none of the caller's other descriptors leaks into the child.
@Suite(.serialized) struct ProgramSpawnerTests {
    /// Runs `script` with /bin/sh and returns (exit status, what it wrote).
    private func runShell(_ script: String) throws -> (status: Int32, output: String) {
        let finished = try ProgramSpawner.run("/bin/sh", ["-c", script], timeout: .seconds(10)).get()
        return (finished.status, finished.output)
    }

    @Test func stdoutAndStderrArriveAndTheExitStatusIsReported() throws {
        let result = try runShell("echo out; echo err >&2; exit 3")
        #expect(result.status == 3)
        #expect(result.output == "out\nerr\n")
    }

    @Test func aChildKilledByASignalReports128PlusTheSignal() throws {
        let result = try runShell("kill -9 $$")
        #expect(result.status == 128 + SIGKILL)
    }

    @Test func stdinIsDevNull() throws {
        let result = try runShell("readlink /proc/self/fd/0")
        #expect(result.output == "/dev/null\n")
    }

    @Test func theChildStartsWithNoSignalBlockedEvenWhenTheCallerBlocksSome() throws {
        var blocked = sigset_t(), previous = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTERM)
        sigaddset(&blocked, SIGINT)
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let result = try runShell("grep SigBlk /proc/self/status")
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines) == "SigBlk:\t0000000000000000")
    }

    @Test func noneOfTheCallersOtherDescriptorsReachesTheChild() throws {
        let held = open("/proc/self/status", O_RDONLY)  // without O_CLOEXEC: exec alone would keep it
        try #require(held > 2)
        defer { close(held) }
        let result = try runShell("ls /proc/self/fd")
        // The shell's own: 0, 1, 2, and the descriptor `ls` lists the directory with.
        let descriptors = result.output.split(separator: "\n").compactMap { Int32($0) }
        #expect(!descriptors.contains(held), "descriptor \(held) leaked into the child: \(descriptors)")
        #expect(descriptors.filter { $0 > 2 }.count <= 1, "only ls's own directory descriptor: \(descriptors)")
    }

    @Test func aProgramThatOutlivesItsTimeoutIsKilled() throws {
        let started = ContinuousClock.now
        let result = try ProgramSpawner.run("/bin/sh", ["-c", "echo begun; exec sleep 30"], timeout: .milliseconds(500)).get()
        #expect(result.status == 128 + SIGKILL && result.output == "begun\n")
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func programsAreFoundInTheSystemDirectories() {
        #expect(ProgramSpawner.find("sh") == "/usr/bin/sh" || ProgramSpawner.find("sh") == "/bin/sh")
        #expect(ProgramSpawner.find("no-such-program-here") == nil)
    }

    @Test func aMissingProgramIsAnErrorNamingIt() {
        let started = ProgramSpawner.spawn("/nonexistent/program", [], output: 1)
        guard case .failure(let error) = started else {
            Issue.record("spawning a missing program succeeded")
            return
        }
        #expect(error.path == "/nonexistent/program" && error.errnoCode == ENOENT)
    }
}
