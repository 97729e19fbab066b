import Foundation
import ConcentratorCore
import Platform
import Testing

/// The shared primitives: the one write loop, the one one-shot result and the lock that closures share.
@Suite struct PrimitivesTests {
    @Test func writeAllDeliversEveryByteThroughAPipeThatTakesThemInPieces() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        // 1 MiB is far more than a pipe buffer (64 KiB): the writer gets short writes until the reader drains.
        let bytes = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let received = OneShot<[UInt8]>()
        let readEnd = fds[0]
        DedicatedThread.start(name: "test-reader") {
            var out: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                out += chunk[0..<n]
            }
            received.set(out)
        }
        try FileDescriptor.writeAll(fds[1], bytes)
        close(fds[1])
        #expect(received.wait(timeout: .seconds(20)) == bytes)
        close(fds[0])
    }

    @Test func sendAllToAClosedPeerFailsWithEPIPEInsteadOfRaisingSIGPIPE() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        close(fds[1])
        #expect(throws: FileDescriptorWriteError(errnoCode: EPIPE)) { try FileDescriptor.sendAll(fds[0], [1, 2, 3]) }
        close(fds[0])
        #expect(throws: FileDescriptorWriteError(errnoCode: EBADF)) { try FileDescriptor.writeAll(fds[0], "x") }
    }

    @Test func aOneShotKeepsItsFirstValueAndWakesThreadAndAsyncWaiters() async throws {
        let shot = OneShot<Int>()
        #expect(shot.current == nil)
        let threadSaw = OneShot<Int?>()
        DedicatedThread.start(name: "test-waiter") { threadSaw.set(shot.wait(timeout: .seconds(20))) }
        try await Task.sleep(for: .milliseconds(50))
        DedicatedThread.start(name: "test-setter") { shot.set(7) }
        #expect(await shot.value() == 7)
        #expect(shot.set(8) == false, "a second value is ignored")
        #expect(shot.current == 7)
        #expect(await threadSaw.value() == 7)
    }

    @Test func aOneShotWaitGivesUpAtItsTimeout() throws {
        let shot = OneShot<String>()
        let start = ContinuousClock.now
        #expect(shot.wait(timeout: .milliseconds(200)) == nil)
        #expect(ContinuousClock.now - start >= .milliseconds(200))
        #expect(shot.set("late") && shot.wait(timeout: .zero) == "late")
    }

    @Test func lockedSerialisesUpdatesFromManyThreads() throws {
        let counter = Locked(0)
        let done = (0..<8).map { _ in OneShot<Void>() }
        for (i, finished) in done.enumerated() {
            DedicatedThread.start(name: "test-add-\(i)") {
                for _ in 0..<10_000 { counter.withLock { $0 += 1 } }
                finished.set(())
            }
        }
        for finished in done { #expect(finished.wait(timeout: .seconds(20)) != nil) }
        #expect(counter.value == 80_000)
    }
}

/// Issue 10 §5: log timestamps always carry milliseconds, for fixed-width parsing.
@Suite struct LogTimestampTests {
    @Test func aWholeSecondStillHasThreeMillisecondDigits() {
        let whole = ISO8601.parse("2026-11-21T10:00:13Z")!
        #expect(LineLogHandler.timestamp(whole) == "2026-11-21T10:00:13.000Z")
        #expect(LineLogHandler.timestamp(whole.adding(milliseconds: 7)) == "2026-11-21T10:00:13.007Z")
        #expect(LineLogHandler.timestamp(whole).count == LineLogHandler.timestamp(whole.adding(milliseconds: 999)).count)
        // Elsewhere (exports, status) whole seconds stay short.
        #expect(ISO8601.format(whole) == "2026-11-21T10:00:13Z")
    }
}
