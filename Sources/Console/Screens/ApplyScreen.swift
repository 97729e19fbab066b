import ConcentratorCore
import Platform

extension ConsoleSession {
    func applyScreen() throws(ConsoleStop) {
        ui.heading("Apply")
        let changes = self.changes
        guard !changes.isEmpty || !pendingFiles.isEmpty else {
            ui.say("Nothing to apply: the working copy equals \(configPath).")
            return
        }
        ui.say("Changes to \(configPath): \(ConfigDiff.counts(changes))"
            + (pendingFiles.isEmpty ? "" : "; \(pendingFiles.count) file\(pendingFiles.count == 1 ? "" : "s") to write"))
        try ui.show(ConfigDiff.render(changes) + pendingFiles.map { "+ file \($0.path)  (\($0.what))" })
        if let failure = problems(with: working) {
            ui.problem("the configuration has \(failure.issues.count) problem(s); nothing was applied:")
            try showIssues(failure)
            return
        }
        ui.good("Validation: ok (\(working.busNames.count) buses, \(working.meters.count) meters).")
        let onDisk = try? FileSystem.readText(configPath)
        if onDisk != appliedText {
            ui.warning("\(configPath) changed on disk since the console read it (another editor?).")
            guard try ui.confirm("Overwrite it with the working copy?", default: false) else {
                ui.say("Nothing applied. Leave the console and start it again to edit the file as it is now.")
                return
            }
        }
        let running = agent.isRunning
        let question = running ? "Apply now? The agent reloads; if it refuses, the previous configuration comes back."
                               : "Write the configuration now? (the agent is not running)"
        guard try ui.confirm(question, default: false) else {
            ui.say("Nothing applied.")
            return
        }
        let applier = ConfigApplier(configPath: configPath, validate: services.validate, agent: agent)
        let text = working.text
        let files = pendingFiles
        ui.say("Applying...", .quiet)
        let outcome = ui.terminal.runUninterruptible { applier.apply(text: text, files: files) }
        switch outcome {
        case .applied(let summary):
            applied = working
            appliedText = text
            pendingFiles = []
            ui.good("Applied: \(summary)")
            ui.say("The previous file is kept as \(applier.backupPath).", .quiet)
        case .invalid(let failure):
            ui.problem("not applied; the validator found \(failure.issues.count) problem(s):")
            try showIssues(failure)
        case .notWritten(let reason):
            ui.problem("not applied: \(reason)")
        case .rolledBack(let reason, let restoreProblem):
            ui.problem("the agent refused the new configuration: \(reason)")
            if let restoreProblem {
                ui.problem("and the rollback had a problem: \(restoreProblem); check \(configPath) and \(applier.backupPath)")
            } else {
                ui.warning("Rolled back: the previous configuration is in place and running. The working copy is kept; fix it and apply again.")
            }
        }
    }
}
