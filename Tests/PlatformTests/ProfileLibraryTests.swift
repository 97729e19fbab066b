import Foundation
import Testing
import ConcentratorCore
import TestSupport
@testable import Platform

@Suite struct ProfileLibraryTests {
    static func profileText(id: String, name: String = "A meter") -> String {
        """
        {"id": "\(id)", "name": "\(name)", "manufacturer": "Test", "source": "tests", "protocol": "modbus",
         "modbus": {"maxRegistersPerRequest": 10, "registers": [
           {"quantity": "voltage_l1", "function": 4, "address": 0, "type": "f32", "unit": "V"}]}}
        """
    }

    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func loadsTheShippedProfilesWithoutFailures() throws {
        let directory = try #require(ProfileLibrary.shippedDirectory(environmentValue: nil))
        #expect(FileManager.default.fileExists(atPath: directory + "/eastron-sdm630.json"))
        let library = ProfileLibrary.load(directories: [directory])
        #expect(library.failures.isEmpty, "\(library.failures)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }
        #expect(library.ids == files.map { String($0.dropLast(5)) }.sorted(), "every shipped file loads, under its own id")
        #expect(Set(library.ids).isSuperset(of: ["abb-b23", "carlo-gavazzi-em24", "eastron-sdm120", "eastron-sdm630", "finder-7m",
                                                  "generic-template", "iskraemeco-me162", "lem-em4tii-plus"]))
        #expect(library.profile(id: "eastron-sdm630")?.manufacturer == "Eastron")
        #expect(library.origins["abb-b23"] == directory + "/abb-b23.json")
    }

    @Test func earlierDirectoriesOverrideLaterOnesAndFailuresAreCollected() throws {
        let site = TemporaryDirectory("profiles-site")
        let shipped = TemporaryDirectory("profiles-shipped")
        try Self.write(Self.profileText(id: "meter-a", name: "site copy"), to: site.file("meter-a.json"))
        try Self.write(Self.profileText(id: "meter-a", name: "shipped copy"), to: shipped.file("meter-a.json"))
        try Self.write(Self.profileText(id: "meter-b"), to: shipped.file("meter-b.json"))
        try Self.write(Self.profileText(id: "meter-c"), to: shipped.file("wrong-name.json"))
        try Self.write("{\"id\": \"meter-d\"", to: shipped.file("meter-d.json"))
        try Self.write("not a profile", to: shipped.file("README.txt"))
        let missing = site.path + "/does-not-exist"

        let library = ProfileLibrary.load(directories: [site.path, missing, shipped.path])
        #expect(library.ids == ["meter-a", "meter-b"])
        #expect(library.profile(id: "meter-a")?.name == "site copy")
        #expect(library.origins["meter-a"] == site.file("meter-a.json"))
        #expect(library.failures.count == 3, "\(library.failures)")
        #expect(library.failures.contains { $0.path == missing && $0.description.contains("cannot list") })
        #expect(library.failures.contains {
            $0.reason == .idMismatch(fileName: "wrong-name.json", id: "meter-c") && $0.description.contains("rename the file to meter-c.json")
        })
        #expect(library.failures.contains {
            if case .invalid(let failure) = $0.reason { return failure.source == shipped.file("meter-d.json") }
            return false
        })
    }

    @Test func findsTheShippedDirectoryInInstallLocations() throws {
        let root = TemporaryDirectory("profiles-install")
        let bin = root.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let executable = bin + "/concentrator"

        // Nothing installed: only a system-wide directory (if this machine has one) can be found.
        let systemWide = "/usr/share/concentrator/profiles"
        let nothing = ProfileLibrary.shippedDirectory(environmentValue: nil, executablePath: executable)
        #expect(nothing == (FileSystem.isDirectory(systemWide) ? systemWide : nil))

        // <prefix>/share/concentrator/profiles beside <prefix>/bin.
        try FileManager.default.createDirectory(atPath: root.file("share/concentrator/profiles"), withIntermediateDirectories: true)
        let share = ProfileLibrary.shippedDirectory(environmentValue: nil, executablePath: executable)
        #expect(share == FileSystem.realPath(root.file("share/concentrator/profiles")))

        // <executable dir>/profiles wins over the share directory.
        try FileManager.default.createDirectory(atPath: bin + "/profiles", withIntermediateDirectories: true)
        #expect(ProfileLibrary.shippedDirectory(environmentValue: nil, executablePath: executable) == FileSystem.realPath(bin + "/profiles"))

        // The environment variable wins over everything, even when it names nothing.
        #expect(ProfileLibrary.shippedDirectory(environmentValue: "/nowhere", executablePath: executable) == "/nowhere")
        #expect(ProfileLibrary.environmentVariable == "CONCENTRATOR_PROFILES")
    }

    @Test func findsProfilesBesidePackageSwiftFromABuildDirectory() throws {
        let root = TemporaryDirectory("profiles-dev")
        let debug = root.file(".build/x86_64-unknown-linux-gnu/debug")
        try FileManager.default.createDirectory(atPath: debug, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root.file("Profiles"), withIntermediateDirectories: true)
        try Self.write("// swift-tools-version:6.0\n", to: root.file("Package.swift"))
        guard !FileSystem.isDirectory("/usr/share/concentrator/profiles") else { return }
        #expect(ProfileLibrary.shippedDirectory(environmentValue: nil, executablePath: debug + "/concentrator") == root.file("Profiles"))
        // A Profiles directory without a Package.swift beside it is not taken.
        try FileManager.default.removeItem(atPath: root.file("Package.swift"))
        #expect(ProfileLibrary.shippedDirectory(environmentValue: nil, executablePath: debug + "/concentrator") == nil)
    }
}
