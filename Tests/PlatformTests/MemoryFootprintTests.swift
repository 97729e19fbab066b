import Platform
import Testing

/// The periodic release of idle read-only pages: it must advise real mappings, lower the file-backed
/// resident set, and leave the process working (pages fault back in).
@Suite struct MemoryFootprintTests {
    @Test func releaseLowersFileBackedResidentSetAndCodeStillRuns() throws {
        let before = try #require(MemoryFootprint.residentFileBytes())
        let advised = MemoryFootprint.releaseIdleCode()
        // The test binary and libc are read-only file mappings; a kernel ≥5.4 accepts the advice.
        #expect(advised > 1_000_000, "advised \(advised) bytes")
        let after = try #require(MemoryFootprint.residentFileBytes())
        #expect(after < before, "RssFile before \(before), after \(after)")
        // Code paged out comes back on use: run something that touches libc and Swift runtime code.
        let sorted = (0..<10_000).map { ($0 * 7919) % 10_007 }.sorted()
        #expect(sorted.first == 0)
        #expect(String(describing: sorted.count) == "10000")
        #expect(MemoryFootprint.residentBytes() != nil)
    }
}
