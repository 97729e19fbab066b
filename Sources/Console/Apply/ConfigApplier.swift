#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import Platform

/// What an apply did.
public enum ApplyOutcome: Hashable, Sendable {
    /// Written (and, with the agent running, reloaded): the agent's summary of what changed.
    case applied(String)
    /// The validator refused the working copy; nothing was written.
    case invalid(ValidationFailure)
    /// A file could not be written; whatever had been written was put back.
    case notWritten(String)
    /// The agent refused the new configuration; the previous files were put back and the agent
    /// reloaded them. `restoreProblem` is set when putting them back failed too.
    case rolledBack(reason: String, restoreProblem: String?)
}

/// Applies a configuration: validate, keep a backup of the previous file, write the key files and
/// the configuration atomically, ask the running agent to reload, and roll everything back when
/// the reload fails. With the agent stopped, it validates and writes.
public struct ConfigApplier: Sendable {
    public let configPath: String
    public let validate: @Sendable (String, String) -> ValidationFailure?
    public let agent: any AgentAccess

    public init(configPath: String, validate: @escaping @Sendable (String, String) -> ValidationFailure?, agent: any AgentAccess) {
        self.configPath = configPath
        self.validate = validate
        self.agent = agent
    }

    /// The previous configuration is kept here.
    public var backupPath: String { configPath + ".bak" }

    /// A file's content and mode before the apply (nil content: it did not exist).
    private struct Saved {
        let path: String
        let bytes: [UInt8]?
        let mode: mode_t
    }

    public func apply(text: String, files: [PendingFile]) -> ApplyOutcome {
        if let failure = validate(text, configPath) { return .invalid(failure) }
        let saved = ([configPath] + files.map(\.path)).map { path in
            Saved(path: path, bytes: try? FileSystem.readBytes(path), mode: FileSystem.mode(path) ?? 0o644)
        }
        let configMode = saved[0].bytes == nil ? 0o644 : saved[0].mode
        do throws(FileError) {
            if let previous = saved[0].bytes { try FileSystem.writeAtomically(previous, to: backupPath, mode: configMode) }
            for file in files {
                let directory = FileSystem.directoryName(file.path)
                try FileSystem.createDirectory(directory, mode: file.mode & 0o044 == 0 ? 0o700 : 0o755)
                try FileSystem.writeAtomically(file.text, to: file.path, mode: mode_t(file.mode))
            }
            try FileSystem.writeAtomically(text, to: configPath, mode: configMode)
        } catch {
            let restoreProblem = restore(saved)
            return .notWritten("\(error)" + (restoreProblem.map { "; putting the previous files back failed too: \($0)" } ?? "; nothing changed"))
        }
        guard agent.isRunning else {
            return .applied("written to \(configPath); the agent is not running and uses it when it starts")
        }
        switch agent.call(ControlRequest(op: "reload"), timeout: .seconds(120)) {
        case .success(let reply):
            return .applied(reply.message ?? "applied")
        case .failure(let failure):
            if let problem = restore(saved) { return .rolledBack(reason: failure.message, restoreProblem: problem) }
            // The agent keeps its running configuration when a reload fails; this reload makes sure
            // it runs what the restored file says (a timed-out reply may still have applied).
            if case .failure(let again) = agent.call(ControlRequest(op: "reload"), timeout: .seconds(120)) {
                return .rolledBack(reason: failure.message, restoreProblem: "the agent did not reload the previous configuration: \(again.message)")
            }
            return .rolledBack(reason: failure.message, restoreProblem: nil)
        }
    }

    /// Puts every saved file back as it was (removing files that did not exist). Returns the
    /// first problem, if any.
    private func restore(_ saved: [Saved]) -> String? {
        var problem: String?
        for file in saved {
            if let bytes = file.bytes {
                do throws(FileError) {
                    try FileSystem.writeAtomically(bytes, to: file.path, mode: file.mode)
                } catch {
                    problem = problem ?? "\(error)"
                }
            } else if FileSystem.exists(file.path) {
                FileSystem.remove(file.path)
            }
        }
        return problem
    }
}
