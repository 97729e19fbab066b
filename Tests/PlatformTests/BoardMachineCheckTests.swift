import CPlatform
import ConcentratorCore
import Foundation
import Testing
import TestSupport
@testable import Platform

/// `concentrator board check`'s machine checks against things a test can make: a pseudo-terminal,
/// /dev/null (a character device that is no terminal), a regular file, a missing path, LED class
/// directories and a fake /sys/class/net.
@Suite struct BoardMachineCheckTests {
    /// A pseudo-terminal master/slave pair; the slave's path is what a board names.
    final class PseudoTerminal {
        var master: Int32 = -1
        var slave: Int32 = -1
        let slavePath: String
        init() throws {
            var name = [CChar](repeating: 0, count: 256)
            guard cplatform_open_pty(&master, &slave, &name, name.count) == 0 else { throw POSIXError(.EIO) }
            slavePath = String(cString: name)
        }
        deinit {
            close(slave)
            close(master)
        }
    }

    @Test func aPseudoTerminalIsTheSimulatorsPort() throws {
        let pty = try PseudoTerminal()
        let dir = TemporaryDirectory("board-check")
        let link = dir.file("bus1")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: pty.slavePath)
        let result = BoardMachineCheck.serialDevice(link, subject: "port bus1", rs485: RS485Settings(), udev: false)
        #expect(result.level == .ok)
        #expect(result.detail.contains("pseudo-terminal (simulator)"))
        #expect(result.detail.contains(pty.slavePath))
        // A board that enables the kernel RS-485 mode still accepts the simulator's PTY.
        let enabled = BoardMachineCheck.serialDevice(link, subject: "port bus1", rs485: RS485Settings(enabled: true), udev: false)
        #expect(enabled.level == .ok)
    }

    @Test func devicesThatAreNoSerialPortFail() throws {
        let dir = TemporaryDirectory("board-check")
        let missing = BoardMachineCheck.serialDevice(dir.file("nothing"), subject: "port p", rs485: nil, udev: true)
        #expect(missing.level == .failure)
        #expect(missing.detail.contains("is missing"))
        #expect(missing.detail.contains("udev"))
        let simulatorMissing = BoardMachineCheck.serialDevice(dir.file("nothing"), subject: "port p", rs485: nil, udev: false)
        #expect(simulatorMissing.detail.contains("meter-sim"))
        FileManager.default.createFile(atPath: dir.file("plain"), contents: Data())
        let plain = BoardMachineCheck.serialDevice(dir.file("plain"), subject: "port p", rs485: nil, udev: false)
        #expect(plain.level == .failure)
        #expect(plain.detail.contains("not a character device"))
        let null = BoardMachineCheck.serialDevice("/dev/null", subject: "port p", rs485: nil, udev: false)
        #expect(null.level == .failure)
        #expect(null.detail.contains("not a terminal"))
    }

    /// Device numbers of UNIX 98 PTY slaves: majors 136–143 (Linux Documentation/admin-guide/devices.txt).
    @Test func pseudoTerminalMajorsAreRecognised() throws {
        func dev(major: UInt64, minor: UInt64) -> dev_t {
            dev_t(((major & 0xfff) << 8) | ((major & ~0xfff) << 32) | (minor & 0xff) | ((minor & ~0xff) << 12))
        }
        #expect(BoardMachineCheck.isPseudoTerminal(dev(major: 136, minor: 3)))
        #expect(BoardMachineCheck.isPseudoTerminal(dev(major: 143, minor: 255)))
        #expect(!BoardMachineCheck.isPseudoTerminal(dev(major: 4, minor: 64)))    // ttyS0
        #expect(!BoardMachineCheck.isPseudoTerminal(dev(major: 188, minor: 0)))   // ttyUSB0
        var st = stat()
        let pty = try PseudoTerminal()
        #expect(stat(pty.slavePath, &st) == 0)
        #expect(BoardMachineCheck.isPseudoTerminal(st.st_rdev))
    }

    @Test func ledClassDevicesAndGPIOChips() throws {
        let dir = TemporaryDirectory("board-check")
        let led = dir.file("ACT")
        try FileManager.default.createDirectory(atPath: led, withIntermediateDirectories: true)
        let missingBrightness = BoardMachineCheck.led(BoardLED(role: .status, driver: .ledClass(directory: led)))
        #expect(missingBrightness.level == .failure)
        #expect(missingBrightness.detail.contains("brightness"))
        FileManager.default.createFile(atPath: led + "/brightness", contents: Data("0\n".utf8))
        #expect(BoardMachineCheck.led(BoardLED(role: .status, driver: .ledClass(directory: led))).level == .ok)
        #expect(BoardMachineCheck.led(BoardLED(role: .status, driver: .ledClass(directory: dir.file("none")))).level == .failure)
        let notChip = BoardMachineCheck.led(BoardLED(role: .uplink, driver: .gpio(chip: led + "/brightness", line: 3, activeLow: false)))
        #expect(notChip.level == .failure)
        #expect(notChip.detail.contains("not a character device"))
    }

    @Test func uplinkInterfaceIsLookedUpInSysfs() throws {
        let dir = TemporaryDirectory("board-check")
        try FileManager.default.createDirectory(atPath: dir.file("eth0"), withIntermediateDirectories: true)
        try "up\n".write(toFile: dir.file("eth0/operstate"), atomically: true, encoding: .utf8)
        let present = BoardMachineCheck.interface("eth0", sysfsRoot: dir.path)
        #expect(present.level == .ok)
        #expect(present.detail == "interface eth0 present (up)")
        #expect(BoardMachineCheck.interface("wwan0", sysfsRoot: dir.path).level == .warning)
    }

    @Test func configurationBusesAreComparedWithTheBoardsPorts() {
        let hat = RS485Settings(enabled: true, rtsActiveHigh: true)
        let board = BoardDefinition(id: "b", name: "B", serialPorts: [
            BoardSerialPort(name: "rs485-1", device: "/dev/ttyRS485-1", rs485: hat),
            BoardSerialPort(name: "rs485-2", device: "/dev/ttyRS485-2", rs485: hat),
        ])
        let config = ConcentratorConfig(device: DeviceSettings(id: "gw"), buses: [
            BusSettings(name: "a", device: "/dev/ttyRS485-1", rs485: hat),
            BusSettings(name: "b", device: "/dev/ttyRS485-2"),
            BusSettings(name: "c", device: "/dev/ttyUSB7"),
        ], meters: [])
        let results = BoardConfigComparison.compare(board: board, config: config)
        #expect(results.map(\.level) == [.ok, .warning, .warning])
        #expect(results[1].detail.contains("differ"))
        #expect(results[2].detail.contains("not a port of board b"))
    }
}
