import ConcentratorCore
import Foundation
import Testing
import TestSupport
@testable import Platform

/// LED drivers against stand-ins: a directory laid out like /sys/class/leds/<name> (sysfs-leds ABI:
/// brightness, max_brightness, trigger with the active trigger in brackets).
@Suite struct IndicatorLEDTests {
    private func fakeLED(maxBrightness: String = "255\n", trigger: String = "none [mmc0] timer heartbeat\n") throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("led")
        try "0\n".write(toFile: dir.file("brightness"), atomically: false, encoding: .utf8)
        try maxBrightness.write(toFile: dir.file("max_brightness"), atomically: false, encoding: .utf8)
        try trigger.write(toFile: dir.file("trigger"), atomically: false, encoding: .utf8)
        return dir
    }

    @Test func ledClassDeviceTakesOverAndHandsBack() throws {
        let dir = try fakeLED()
        let led = try LEDClassDevice(directory: dir.path, label: "status")
        #expect(readTextFile(dir.file("trigger")) == "none\n")
        try led.set(true)
        #expect(readTextFile(dir.file("brightness")) == "255\n")
        try led.set(false)
        #expect(readTextFile(dir.file("brightness")) == "0\n")
        try led.set(true)
        led.release()
        #expect(readTextFile(dir.file("brightness")) == "0\n")
        #expect(readTextFile(dir.file("trigger")) == "mmc0\n")
    }

    @Test func brightnessDefaultsToOneWithoutMaximum() throws {
        let dir = try fakeLED(maxBrightness: "garbage")
        let led = try LEDClassDevice(directory: dir.path, label: "uplink")
        try led.set(true)
        #expect(readTextFile(dir.file("brightness")) == "1\n")
    }

    @Test func selectedTriggerIsTheOneInBrackets() {
        #expect(LEDClassDevice.selectedTrigger("none [mmc0] timer\n") == "mmc0")
        #expect(LEDClassDevice.selectedTrigger("[none] heartbeat") == "none")
        #expect(LEDClassDevice.selectedTrigger("none heartbeat") == nil)
    }

    @Test func missingDevicesThrowWithThePath() throws {
        let dir = TemporaryDirectory("led")
        #expect(throws: FileError.self) { try LEDClassDevice(directory: dir.file("absent"), label: "status") }
        do {
            _ = try GPIOLineLED(chip: "/dev/null", line: 5, activeLow: false, label: "bus-activity bus1")
            Issue.record("/dev/null accepted as a GPIO chip")
        } catch {
            #expect(error.path == "/dev/null")
            #expect(error.description.contains("GPIO line 5"))
        }
        let fake = try fakeLED()
        let led = try IndicatorLEDs.open(BoardLED(role: .status, driver: .ledClass(directory: fake.path)))
        #expect(led.label == "status")
    }
}
