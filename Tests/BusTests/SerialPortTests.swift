import Testing
import Glibc
import CPlatform
import ConcentratorCore
@testable import Bus

/// A real pseudo-terminal pair for tests: the test holds the master side.
final class TestPTY {
    let master: Int32
    let slave: Int32
    let path: String

    init() {
        var m: Int32 = -1, s: Int32 = -1
        var name = [CChar](repeating: 0, count: 256)
        precondition(cplatform_open_pty(&m, &s, &name, 256) == 0)
        master = m
        slave = s
        path = String(cString: name)
    }

    deinit {
        close(master)
        close(slave)
    }
}

@Suite struct SerialPortTests {
    @Test func missingDeviceNamesThePathAndWhatToCheck() {
        #expect {
            _ = try SerialPort(path: "/dev/ttyNOPE-42", line: LineSettings())
        } throws: { error in
            guard let e = error as? SerialPortError else { return false }
            return e.kind == .missing && e.description.contains("/dev/ttyNOPE-42") && e.hint.contains("device path")
        }
    }

    @Test func ptyOpensThroughThePOSIXFallbackAndRejectsRS485Quietly() throws {
        let pty = TestPTY()
        let port = try SerialPort(path: pty.path, line: LineSettings(baud: 9600))
        #expect(!port.viaLibserialport)
        #expect(port.fd >= 0)
        #expect(!port.configureRS485(RS485Settings(enabled: true)), "a PTY has no RS-485 mode")
        try port.apply(LineSettings(baud: 300, dataBits: 7, parity: .even, stopBits: 1))
        #expect(port.line.summary == "300 7E1")
    }

    @Test func aSecondMasterCannotOpenTheSamePort() throws {
        let pty = TestPTY()
        let first = try SerialPort(path: pty.path, line: LineSettings())
        #expect {
            _ = try SerialPort(path: pty.path, line: LineSettings())
        } throws: { error in
            (error as? SerialPortError)?.kind == .lockedByAnotherMaster
        }
        first.close()
        let again = try SerialPort(path: pty.path, line: LineSettings())
        #expect(again.fd >= 0, "the lock is released on close")
    }

    @Test func characterTimesFollowTheFraming() {
        #expect(LineSettings(baud: 9600).bitsPerCharacter == 10)
        #expect(abs(LineSettings(baud: 9600).characterMicroseconds - 1041.67) < 0.01)
        #expect(LineSettings(baud: 9600, parity: .even).bitsPerCharacter == 11)
        // Modbus over Serial Line V1.02 §2.5.1.1: 3.5 characters, fixed 1.75 ms above 19200 baud.
        #expect(abs(LineSettings(baud: 9600).modbusInterFrameMicroseconds - 3645.8) < 0.1)
        #expect(LineSettings(baud: 115_200).modbusInterFrameMicroseconds == 1750)
    }
}
