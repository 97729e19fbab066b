import Platform
import XCTest

/// The periodic release of idle read-only pages: it must advise real mappings, lower the file-backed
/// resident set, and leave the process working (pages fault back in).
final class MemoryFootprintTests: XCTestCase {
    func testReleaseLowersFileBackedResidentSetAndCodeStillRuns() throws {
        let before = try XCTUnwrap(MemoryFootprint.residentFileBytes())
        let advised = MemoryFootprint.releaseIdleCode()
        // The test binary and libc are read-only file mappings; a kernel ≥5.4 accepts the advice.
        XCTAssertGreaterThan(advised, 1_000_000, "advised \(advised) bytes")
        let after = try XCTUnwrap(MemoryFootprint.residentFileBytes())
        XCTAssertLessThan(after, before, "RssFile before \(before), after \(after)")
        // Code paged out comes back on use: run something that touches libc and Swift runtime code.
        let sorted = (0..<10_000).map { ($0 * 7919) % 10_007 }.sorted()
        XCTAssertEqual(sorted.first, 0)
        XCTAssertEqual(String(describing: sorted.count), "10000")
        XCTAssertNotNil(MemoryFootprint.residentBytes())
    }
}
