import Foundation
import Glibc
import Testing
import ConcentratorCore
import MeterProtocols
import TestSupport

/// `meter-sim` with IEC 62056-21 meters from the command line: they come up from their profile,
/// answer an addressed sign-on on the PTY (7E1, with the parity bit in software where the PTY
/// refuses 7E1), and take faults and clock offsets over the control channel.
@Suite(.serialized) struct IECExecutableTests {
    let binary = BuiltProducts.path("meter-sim")

    @Test func iecMetersFromTheCommandLine() throws {
        let dir = TemporaryDirectory("meter-sim-iec")
        let control = dir.file("control")
        let sim = try ChildProcess(binary, ["--control", control, "--profiles", BuiltProducts.profilesDirectory,
                                            "--iec-meters", "00000001-00000002:iskraemeco-me162", "--iec-fault", "00000002=silence"],
                                   directory: dir)
        defer { _ = sim.stop() }
        #expect(sim.waitForOutput("\n"))
        let pty = try #require(sim.stdout.split(separator: "\n").first?.split(separator: " ").dropFirst().first.map(String.init))

        let fd = open(pty, O_RDWR | O_NOCTTY)
        #expect(fd >= 0)
        defer { close(fd) }
        var tio = termios()
        tcgetattr(fd, &tio)
        cfmakeraw(&tio)
        tcsetattr(fd, TCSANOW, &tio)
        // 8N1 on the PTY: the sign-on goes with its even parity bit in bit 7, as SerialPort sends it.
        let parity = SoftwareParity(.even)
        let request = parity.adding(to: Array("/?00000001!\r\n".utf8))
        _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(5)
        while !received.contains(0x0A), Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { received += buffer[0..<n] }
        }
        #expect(String(decoding: try parity.stripping(received), as: UTF8.self) == "/ISK5ME162-00000001\r\n")

        let ok = try runCommand(binary, ["ctl", "--control", control, "iec-fault", "00000001", "bad-bcc"])
        #expect(ok.status == 0 && ok.stdout.hasPrefix("ok iec-fault 00000001 bad-bcc"))
        let clock = try runCommand(binary, ["ctl", "--control", control, "iec-clock", "00000002", "-300"])
        #expect(clock.status == 0 && clock.stdout.hasPrefix("ok iec-clock 00000002 offset -300"))
        let bad = try runCommand(binary, ["ctl", "--control", control, "iec-fault", "00000009", "stall"])
        #expect(bad.status == ExitStatus.failure && bad.stdout.contains("no IEC meter \"00000009\""))
    }

    @Test func badIECArgumentsAreUsageErrors() throws {
        for args in [["--iec-meters", "1-100:x"], ["--iec-fault", "1=loud"], ["--iec-reaction", "9-3"], ["--iec-meters", "1:"]] {
            let result = try runCommand(binary, args)
            #expect(result.status == ExitStatus.usage, "\(args): \(result.stderr)")
            #expect(result.stderr.contains("invalid"), "\(args): \(result.stderr)")
        }
    }
}
