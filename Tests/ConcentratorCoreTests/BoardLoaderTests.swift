import Foundation
import Testing
import TestSupport
@testable import ConcentratorCore

/// Board files: the shipped ones load, every mistake is reported with its path, and the udev
/// rules say what the board file says.
@Suite struct BoardLoaderTests {
    static let boardDirectory = BuiltProducts.packageRoot + "/Board"
    static let shippedBoards = ["rpi4-rs485-hat", "x86-usb-rs485", "beaglebone-rs485", "sim"]

    private func issues(_ text: String) -> [ValidationIssue]? {
        do {
            _ = try BoardLoader.load(text: text, source: "board.json")
            return nil
        } catch {
            return error.issues
        }
    }

    @Test(arguments: shippedBoards)
    func shippedBoardLoads(id: String) throws {
        let path = Self.boardDirectory + "/\(id).json"
        let board = try BoardLoader.load(text: try String(contentsOfFile: path, encoding: .utf8), source: path)
        #expect(board.id == id, "the file name must be the board id")
        #expect(!board.serialPorts.isEmpty)
    }

    @Test func simulatorBoardNamesTheDemoLinks() throws {
        let path = Self.boardDirectory + "/sim.json"
        let board = try BoardLoader.load(text: try String(contentsOfFile: path, encoding: .utf8), source: path)
        #expect(board.serialPorts.map(\.device) == (1...4).map { "/tmp/concentrator-demo/bus\($0)" })
        #expect(board.serialPorts.allSatisfy { $0.udevMatch == nil && !$0.rs485.enabled })
        #expect(board.leds.isEmpty)
    }

    @Test func aFullBoardIsReadFieldByField() throws {
        let text = """
        {
          "id": "test-board",
          "name": "Test board",
          "serialPorts": [
            {"name": "p1", "device": "/dev/ttyRS485-1", "udev": {"KERNEL": "ttySC0", "DRIVERS": "sc16is7xx"},
             "rs485": {"enabled": true, "rtsActiveHigh": false, "delayBeforeSendMilliseconds": 2, "delayAfterSendMilliseconds": 3}},
            {"name": "p2", "device": "/dev/ttyRS485-2"}
          ],
          "leds": [
            {"role": "status", "sysfs": "/sys/class/leds/ACT"},
            {"role": "bus-activity", "port": "p2", "gpio": {"chip": "/dev/gpiochip0", "line": 6, "activeLow": true}}
          ],
          "radioModem": {"device": "/dev/ttyRadio", "udev": {"KERNEL": "ttyAMA0"}, "baud": 19200},
          "uplinkInterface": "wwan0"
        }
        """
        let board = try BoardLoader.load(text: text, source: "t")
        #expect(board.serialPorts[0] == BoardSerialPort(name: "p1", device: "/dev/ttyRS485-1",
                                                        udevMatch: UdevMatch([("KERNEL", "ttySC0"), ("DRIVERS", "sc16is7xx")]),
                                                        rs485: RS485Settings(enabled: true, rtsActiveHigh: false,
                                                                             delayBeforeSendMilliseconds: 2, delayAfterSendMilliseconds: 3)))
        #expect(board.serialPorts[1] == BoardSerialPort(name: "p2", device: "/dev/ttyRS485-2"))
        #expect(board.led(.status)?.driver == .ledClass(directory: "/sys/class/leds/ACT"))
        #expect(board.led(.busActivity, port: "p2")?.driver == .gpio(chip: "/dev/gpiochip0", line: 6, activeLow: true))
        #expect(board.led(.busActivity, port: "p1") == nil)
        #expect(board.led(.uplink) == nil)
        #expect(board.radioModem == BoardRadioModem(device: "/dev/ttyRadio", udevMatch: UdevMatch([("KERNEL", "ttyAMA0")]), baud: 19200))
        #expect(board.uplinkInterface == "wwan0")
        #expect(board.port(device: "/dev/ttyRS485-2")?.name == "p2")
    }

    @Test func everyMistakeIsListedWithItsPath() throws {
        let text = """
        {
          "id": "Bad Board",
          "serialPorts": [
            {"name": "p1", "device": "ttyS0", "udev": {"KERNEL": "ttyS0", "NAME": "x"}},
            {"name": "p1", "device": "/dev/ttyS1", "rs485": {"delayBeforeSendMilliseconds": 500}},
            {"name": "p3", "device": "/dev/ttyS1", "udev": {"KERNEL": "tty\\"S2"}}
          ],
          "leds": [
            {"role": "status"},
            {"role": "bus-activity", "port": "nope", "sysfs": "/sys/class/leds/a"},
            {"role": "uplink", "sysfs": "/sys/class/leds/b", "gpio": {"chip": "/dev/gpiochip0", "line": 2000}},
            {"role": "blink", "sysfs": "/sys/class/leds/c"},
            {"role": "status", "sysfs": "/sys/class/leds/d"}
          ],
          "uplinkInterface": "eth/0",
          "colour": "green"
        }
        """
        let found = try #require(issues(text))
        let paths = found.map(\.path)
        let expected = [
            "$.id", "$.name",
            "$.serialPorts[0].device", "$.serialPorts[0].udev.NAME",
            "$.serialPorts[1].name", "$.serialPorts[1].rs485.delayBeforeSendMilliseconds",
            "$.serialPorts[2].device", "$.serialPorts[2].udev.KERNEL",
            "$.leds[0]", "$.leds[1].port", "$.leds[2].gpio.line", "$.leds[2]", "$.leds[3].role", "$.leds[4].role",
            "$.uplinkInterface", "$.colour",
        ]
        for path in expected { #expect(paths.contains(path), "no issue at \(path): \(found)") }
        #expect(found.first { $0.path == "$.leds[4].role" }?.problem == "a second LED for the same purpose")
        #expect(found.first { $0.path == "$.serialPorts[2].device" }?.problem.contains("already used") == true)
        #expect(found.first { $0.path == "$.serialPorts[0].udev.NAME" }?.problem == "unknown udev match key")
        #expect(found.first { $0.path == "$.leds[0]" }?.problem == "needs exactly one of \"sysfs\" and \"gpio\"")
    }

    @Test func structuralLimits() throws {
        #expect(issues(#"{"id": "b", "name": "B", "serialPorts": []}"#)?.first?.problem == "too few entries")
        #expect(issues(#"{"id": "b", "name": "B", "serialPorts": [{"name": "p", "device": "/dev/x", "udev": {}}]}"#)?
            .contains { $0.problem == "must name at least one match key" } == true)
        #expect(issues(#"{"id": "b", "name": "B", "serialPorts": [{"name": "p", "device": "/dev/x"}], "leds": [{"role": "bus-activity", "sysfs": "/x"}]}"#)?
            .first?.path == "$.leds[0].port")
        #expect(issues("{\"id\": \"b\",}")?.first?.problem.hasPrefix("invalid JSON") == true)
        #expect(issues(#"{"id": "b", "name": "B", "serialPorts": [{"name": "p", "device": "/dev/x"}], "uplinkInterface": "averylonginterfacename"}"#)?
            .first?.problem == "too long")
    }

    /// The rules are written out by hand here from udev(7): match keys with ==, SYMLINK+= relative
    /// to /dev, GROUP= and MODE= assignments.
    @Test func udevRulesFollowTheBoardFile() throws {
        let board = BoardDefinition(id: "t", name: "T", serialPorts: [
            BoardSerialPort(name: "p1", device: "/dev/ttyRS485-1", udevMatch: UdevMatch([("KERNEL", "ttySC0"), ("DRIVERS", "sc16is7xx")])),
            BoardSerialPort(name: "sim", device: "/tmp/sim/bus1"),
        ], leds: [
            BoardLED(role: .status, driver: .ledClass(directory: "/sys/class/leds/ACT")),
            BoardLED(role: .uplink, driver: .gpio(chip: "/dev/gpiochip0", line: 13, activeLow: false)),
            BoardLED(role: .busActivity, port: "p1", driver: .gpio(chip: "/dev/gpiochip0", line: 5, activeLow: false)),
        ], radioModem: BoardRadioModem(device: "/dev/serial/radio", udevMatch: UdevMatch([("ENV{ID_PATH}", "platform-fe201000.serial")])))
        let lines = BoardUdevRules.render(board).split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        #expect(lines == [
            #"SUBSYSTEM=="tty", KERNEL=="ttySC0", DRIVERS=="sc16is7xx", SYMLINK+="ttyRS485-1", GROUP="dialout", MODE="0660""#,
            #"SUBSYSTEM=="tty", ENV{ID_PATH}=="platform-fe201000.serial", SYMLINK+="serial/radio", GROUP="dialout", MODE="0660""#,
            #"ACTION!="remove", SUBSYSTEM=="leds", KERNEL=="ACT", RUN+="/bin/chgrp concentrator /sys%p/brightness /sys%p/trigger", RUN+="/bin/chmod g+w /sys%p/brightness /sys%p/trigger""#,
            #"SUBSYSTEM=="gpio", KERNEL=="gpiochip0", GROUP="concentrator", MODE="0660""#,
        ])
        #expect(BoardUdevRules.render(board).contains("# sim: /tmp/sim/bus1 is not made by udev"))
        #expect(BoardUdevRules.fileName(boardID: "t") == "60-concentrator-t.rules")
    }

    /// Board/udev/*.rules are what `concentrator board udev-rules` makes from the board files (`make udev-rules`).
    @Test(arguments: shippedBoards.filter { $0 != "sim" })
    func shippedUdevRulesAreCurrent(id: String) throws {
        let path = Self.boardDirectory + "/\(id).json"
        let board = try BoardLoader.load(text: try String(contentsOfFile: path, encoding: .utf8), source: path)
        let shipped = try String(contentsOfFile: Self.boardDirectory + "/udev/" + BoardUdevRules.fileName(boardID: id), encoding: .utf8)
        #expect(shipped == BoardUdevRules.render(board), "run: make udev-rules")
    }
}

/// `device.board` in the configuration.
@Suite struct DeviceBoardKeyTests {
    @Test func boardIsAnOptionalAbsolutePath() throws {
        let context = ConfigurationFixtures.context
        let with = ConfigurationFixtures.document(device: #"{"id": "gw-1", "board": "/usr/share/concentrator/boards/sim.json"}"#)
        #expect(try ConfigurationLoader.load(text: with, source: "t", context: context).device.board == "/usr/share/concentrator/boards/sim.json")
        #expect(try ConfigurationLoader.load(text: ConfigurationFixtures.document(), source: "t", context: context).device.board == nil)
        let relative = ConfigurationFixtures.issues(ConfigurationFixtures.document(device: #"{"id": "gw-1", "board": "boards/sim.json"}"#))
        #expect(relative?.map(\.path) == ["$.device.board"])
    }
}
