import Foundation

/// The fault matrix's records (issue 17): each fault test appends one JSON line with what it
/// injected and what reached the head-end to the file named by `FAULT_MATRIX_OUT`, when set
/// (`scripts/fault-matrix.sh` sets it and prints the table). Without the variable nothing is written.
public enum FaultMatrix {
    public static var outputPath: String? { ProcessInfo.processInfo.environment["FAULT_MATRIX_OUT"] }

    /// One run of one fault: values the head-end should have (`expected`), values it has
    /// (`delivered`, counted once each), values it got more than once (`duplicated`), and any
    /// measurements worth a column (`measured`: log lines while full, resident kilobytes, …).
    public static func record(fault: String, runs: Int = 1, expected: Int, delivered: Int, duplicated: Int = 0,
                              measured: [String: Double] = [:]) {
        guard let path = outputPath else { return }
        var row: [String: Any] = ["fault": fault, "runs": runs, "expected": expected, "delivered": delivered,
                                  "lost": max(0, expected - delivered), "duplicated": duplicated]
        for (k, v) in measured { row[k] = v }
        guard let data = try? JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]) else { return }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let line = Array(data) + [0x0A]
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
