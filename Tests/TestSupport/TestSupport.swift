import Foundation
import ConcentratorCore
import Platform

/// A fresh directory under the system temp dir, removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ prefix: String = "concentrator-test") {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: template)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    deinit {
        if ProcessInfo.processInfo.environment["KEEP_TEST_DIRS"] == nil {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}

/// Where SwiftPM put the built executables and where the package root is.
public enum BuiltProducts {
    /// The directory holding `concentrator`, `meter-sim` and `headend` for this build.
    public static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["CONCENTRATOR_BIN_DIR"] { return dir }
        // The test bundle lives in the same directory as the executables.
        var candidates: [String] = []
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append((bundle.bundlePath as NSString).deletingLastPathComponent)
        }
        if let exe = FileSystem.executablePath() { candidates.append((exe as NSString).deletingLastPathComponent) }
        candidates.append(packageRoot + "/.build/debug")
        for c in candidates where FileManager.default.isExecutableFile(atPath: c + "/meter-sim") { return c }
        return candidates.first ?? packageRoot + "/.build/debug"
    }

    public static func path(_ name: String) -> String { directory + "/" + name }

    /// The package root (the directory with Package.swift).
    public static var packageRoot: String {
        var dir = (#filePath as NSString).deletingLastPathComponent
        while dir != "/" {
            if FileManager.default.fileExists(atPath: dir + "/Package.swift") { return dir }
            dir = (dir as NSString).deletingLastPathComponent
        }
        return FileManager.default.currentDirectoryPath
    }

    /// The shipped meter profiles.
    public static var profilesDirectory: String { packageRoot + "/Profiles" }
}

/// Reads a text file written by a child process, tolerating its absence.
public func readTextFile(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

/// Polls `condition` until it holds or `timeout` passes. Returns whether it held.
@discardableResult
public func waitUntil(timeout: Duration, poll: Duration = .milliseconds(50),
                      _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: poll.inSeconds)
    }
    return try condition()
}
