import CPlatform
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The agent's resident memory. Much of its resident set is clean, read-only file pages: code and
/// constants of the program and its shared libraries touched once (argument parsing, configuration and
/// profile loading, library initialisation, a rare error path) or mapped beside them by the kernel's
/// fault-around. They are not needed again, and the kernel would reclaim them under pressure anyway;
/// releasing them now and then keeps the footprint at the working set.
public enum MemoryFootprint {
    /// Releases the clean pages of the read-only file mappings; returns the bytes advised (0 if the
    /// kernel does not support it). Pages in use fault straight back in from the page cache.
    @discardableResult
    public static func releaseIdleCode() -> Int {
        max(0, cplatform_page_out_file_mappings())
    }

    /// The process's resident set size in bytes (from /proc/self/statm), or nil.
    public static func residentBytes() -> Int? {
        guard let text = try? FileSystem.readText("/proc/self/statm") else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// The resident bytes backed by files (program and library pages; `RssFile` in
    /// /proc/self/status), or nil.
    public static func residentFileBytes() -> Int? {
        guard let text = try? FileSystem.readText("/proc/self/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("RssFile:") {
            let digits = line.split(separator: " ").dropFirst().first
            return digits.flatMap { Int($0) }.map { $0 * 1024 }
        }
        return nil
    }
}
