import Foundation
import Testing
import TestSupport

/// scripts/lib/restore-relro.py, the step of scripts/build-gateway-binary.sh that keeps full RELRO
/// after GNU objcopy removed the unwind tables: on a stripped copy of the built agent, the GNU_RELRO
/// program header comes back with its original addresses and size, at the writable segment's new file
/// offset, the stale GNU_EH_FRAME header is gone, and the program still runs.
@Suite struct ShippedBinaryRELROTests {
    static let tools = ["/usr/bin/objcopy", "/usr/bin/strip", "/usr/bin/readelf", "/usr/bin/python3"].allSatisfy {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// (type, offset, vaddr, memsz) of each program header, from `readelf -lW`.
    static func programHeaders(_ path: String) throws -> [(type: String, offset: UInt64, vaddr: UInt64, memsz: UInt64)] {
        let out = try runCommand("/usr/bin/readelf", ["-lW", path]).stdout
        return out.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard f.count >= 7, f[1].hasPrefix("0x"), let offset = UInt64(f[1].dropFirst(2), radix: 16),
                  let vaddr = UInt64(f[2].dropFirst(2), radix: 16), let memsz = UInt64(f[5].dropFirst(2), radix: 16) else { return nil }
            return (f[0], offset, vaddr, memsz)
        }
    }

    @Test(.enabled(if: tools, "binutils or python3 are not installed"))
    func relroSurvivesTheRemovalOfTheUnwindTables() throws {
        let dir = TemporaryDirectory("relro")
        let stripped = dir.file("stripped"), shipped = dir.file("concentrator")
        #expect(try runCommand("/usr/bin/strip", ["--strip-all", "-o", stripped, BuiltProducts.path("concentrator")]).status == 0)
        let original = try Self.programHeaders(stripped)
        let relro = try #require(original.first { $0.type == "GNU_RELRO" }, "the build links with RELRO")
        #expect(try runCommand("/usr/bin/objcopy", ["--remove-section=.eh_frame", "--remove-section=.eh_frame_hdr", stripped, shipped]).status == 0)
        let fix = try runCommand("/usr/bin/python3", [BuiltProducts.packageRoot + "/scripts/lib/restore-relro.py", stripped, shipped])
        #expect(fix.status == 0, "\(fix.stderr)")

        let headers = try Self.programHeaders(shipped)
        let restored = try #require(headers.first { $0.type == "GNU_RELRO" })
        #expect(restored.vaddr == relro.vaddr && restored.memsz == relro.memsz)
        // The file offset must be the writable LOAD segment's, moved by the same amount as its address.
        let load = try #require(headers.first { $0.type == "LOAD" && $0.vaddr <= relro.vaddr && relro.vaddr < $0.vaddr + $0.memsz })
        #expect(restored.offset == load.offset + (relro.vaddr - load.vaddr))
        #expect(!headers.contains { $0.type == "GNU_EH_FRAME" }, "no header points at removed unwind tables")
        #expect(headers.count <= original.count, "no header added, the stale one reused")

        let run = try runCommand(shipped, ["--version"])
        #expect(run.status == 0 && !run.stdout.isEmpty, "the patched binary runs: \(run.stderr)")
    }
}
