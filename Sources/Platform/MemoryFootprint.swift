import CPlatform

/// The agent's resident memory. Much of a static Swift binary's resident set is clean code pages
/// touched once (argument parsing, configuration and profile loading, a rare error path) or mapped
/// beside them by the kernel's fault-around. They are not needed again, and the kernel would reclaim
/// them under pressure anyway; releasing them now and then keeps the footprint at the working set.
public enum MemoryFootprint {
    /// Releases the clean pages of the executable's code; returns the bytes advised (0 if the kernel
    /// does not support it). Pages in use fault straight back in from the page cache.
    @discardableResult
    public static func releaseIdleCode() -> Int {
        max(0, cplatform_page_out_executable_code())
    }

    /// The process's resident set size in bytes (from /proc/self/statm), or nil.
    public static func residentBytes() -> Int? {
        guard let text = try? FileSystem.readText("/proc/self/statm") else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * 4096
    }
}
