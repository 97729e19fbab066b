import Commands
import ConcentratorCore
import KeyFiles
import Platform
import Wire

/// Where a configuration applied by command stands.
enum ConfigTrialState: Sendable {
    case none
    /// Applied; rolled back unless a head-end ack arrives before the deadline.
    case running(ConfigTrial)
    /// The deadline passed; the previous configuration is being restored.
    case rollingBack
}

extension Agent {
    /// `<state>/config-trial.json`: the running trial, so that it survives a restart.
    var configTrialPath: String { FileSystem.join(setup.config.device.stateDirectory, ConfigTrial.fileName) }

    /// The running configuration trial, if any.
    var configTrial: ConfigTrial? {
        lock.withLock { () -> ConfigTrial? in
            if case .running(let t) = trialState { return t }
            return nil
        }
    }

    /// `config.set`, `meters.add`, `meters.remove`: edits the configuration document, validates the
    /// result exactly as at start, keeps the current file as `<config>.previous`, writes the new one
    /// atomically and, after the reply is out, reloads. With `trial` (and whenever the uplink section
    /// changes) the change must be confirmed by a head-end ack within the running configuration's
    /// `uplink.configTrialSeconds`, or the previous file comes back by itself.
    func changeConfiguration(envelope: CommandEnvelope, signer: KeyID, trial wantsTrial: Bool,
                             edit: (JSONValue) throws(CommandRejection) -> JSONValue) -> CommandOutcome {
        switch lock.withLock({ trialState }) {
        case .running(let t):
            return .failed(.busy, "configuration trial of command \(t.commandID) runs until \(ISO8601.format(t.deadline)); try again after it is confirmed or rolled back")
        case .rollingBack:
            return .failed(.busy, "a configuration is being rolled back; try again shortly")
        case .none:
            break
        }
        let old = setup
        let path = old.configPath
        let currentText: String
        let current: JSONValue
        do {
            currentText = try FileSystem.readText(path)
            current = try JSONParser.parse(currentText)
        } catch {
            return .failed(.internalError, "cannot read the configuration in force (\(path)): \(error)")
        }
        let edited: JSONValue
        do { edited = try edit(current) } catch { return .failed(error.code, error.message) }
        let text = ConfigurationEdit.render(edited)
        let new: AgentSetup
        do { new = try AgentSetup.validate(text: text, source: path) } catch {
            return .failed(.invalidArguments, "the resulting configuration is invalid, nothing was changed: \(error.description)")
        }
        let (a, b) = (old.config.device, new.config.device)
        guard a.id == b.id, a.stateDirectory == b.stateDirectory, a.runtimeDirectory == b.runtimeDirectory else {
            return .failed(.invalidArguments, "device.id, device.stateDirectory and device.runtimeDirectory cannot change by command")
        }
        guard new.config != old.config else {
            return CommandOutcome(message: "configuration unchanged", result: .sortedObject(["changed": .bool(false)]))
        }
        let needsTrial = wantsTrial || new.config.uplink != old.config.uplink
        let seconds = old.config.uplink?.configTrialSeconds ?? 300
        let previousPath = path + ".previous"
        let now = options.clock.now()
        let trial = ConfigTrial(commandID: envelope.id, keyID: signer.hex, appliedAt: now, deadline: now.adding(seconds: Int64(seconds)),
                                previousPath: previousPath)
        let mode = FileSystem.mode(path).map { $0 & 0o777 } ?? 0o644
        do {
            try FileSystem.writeAtomically(currentText, to: previousPath, mode: mode)
            if needsTrial { try FileSystem.writeAtomically(trial.encoded(), to: configTrialPath, mode: 0o600) }
            try FileSystem.writeAtomically(text, to: path, mode: mode)
        } catch {
            if needsTrial { FileSystem.remove(configTrialPath) }
            return .failed(.internalError, "the configuration was not changed: \(error)")
        }
        var result: [String: JSONValue] = ["changed": .bool(true), "previous": .string(previousPath),
                                           "meters": CanonicalJSON.integer(new.config.meters.count)]
        if needsTrial { result["trialSeconds"] = CanonicalJSON.integer(seconds) }
        let summary = needsTrial
            ? "configuration written; applied after this reply, and restored unless the head-end acknowledges within \(seconds) s"
            : "configuration written; applied after this reply"
        return CommandOutcome(message: summary, result: .sortedObject(result)) { [self] in
            applyWrittenConfiguration(trial: needsTrial ? trial : nil, seconds: seconds)
        }
    }

    /// Reloads the configuration a command wrote and arms its trial. A reload that fails although the
    /// file validated a moment ago restores the previous file at once.
    private func applyWrittenConfiguration(trial: ConfigTrial?, seconds: Int) {
        switch reload() {
        case .success:
            guard var trial else { return }
            // Only acks received after the reload prove that the new configuration reaches the head-end.
            trial.appliedAt = options.clock.now()
            trial.deadline = trial.appliedAt.adding(seconds: Int64(seconds))
            try? FileSystem.writeAtomically(trial.encoded(), to: configTrialPath, mode: 0o600)
            lock.withLock { trialState = .running(trial) }
            logger.notice("configuration trial of command \(trial.commandID): waiting up to \(seconds) s for a head-end ack")
        case .failure(let failure):
            logger.error("the configuration written by command could not be applied (\(failure.message)); restoring the previous one")
            let restore = trial ?? ConfigTrial(commandID: "", keyID: "", appliedAt: options.clock.now(), deadline: options.clock.now(),
                                               previousPath: setup.configPath + ".previous")
            lock.withLock { trialState = .rollingBack }
            restorePrevious(restore, reason: "it could not be applied: \(failure.message)")
        }
    }

    /// Picks up a trial that was running when the agent stopped; its deadline stands.
    func resumeConfigTrial() {
        guard FileSystem.exists(configTrialPath) else { return }
        guard let text = try? FileSystem.readText(configTrialPath), var trial = ConfigTrial.decode(text) else {
            logger.error("\(configTrialPath) is damaged; removed (the configuration in force stays)")
            FileSystem.remove(configTrialPath)
            return
        }
        trial.appliedAt = options.clock.now()
        lock.withLock { trialState = .running(trial) }
        logger.notice("configuration trial of command \(trial.commandID) resumed: a head-end ack must arrive before \(ISO8601.format(trial.deadline))")
    }

    /// Confirms the running trial at the first head-end ack after it began, or rolls it back once
    /// its deadline has passed. Called by the maintenance loop.
    func checkConfigTrial() {
        guard let trial = configTrial else { return }
        if let acked = uplink?.lastAcknowledged, acked >= trial.appliedAt {
            lock.withLock { trialState = .none }
            FileSystem.remove(configTrialPath)
            let message = "configuration of command \(trial.commandID) confirmed: the head-end acknowledged at \(ISO8601.format(acked))"
            logger.notice("\(message)")
            events?.record(GatewayEvent(time: options.clock.now(), kind: .configApplied, severity: .info, message: message))
        } else if options.clock.now() >= trial.deadline {
            lock.withLock { trialState = .rollingBack }
            DedicatedThread.start(name: "config-rollback") { [self] in
                restorePrevious(trial, reason: "no head-end ack by \(ISO8601.format(trial.deadline))")
            }
        }
    }

    /// Writes the previous configuration back, reloads it, records the rollback and amends the
    /// command's stored reply to `config-rolled-back` (published once the uplink is back).
    private func restorePrevious(_ trial: ConfigTrial, reason: String) {
        defer { lock.withLock { trialState = .none } }
        let path = setup.configPath
        do {
            let text = try FileSystem.readText(trial.previousPath)
            try FileSystem.writeAtomically(text, to: path, mode: FileSystem.mode(path).map { $0 & 0o777 } ?? 0o644)
        } catch {
            logger.critical("cannot restore the previous configuration from \(trial.previousPath): \(error); the new one stays in force")
            return
        }
        FileSystem.remove(configTrialPath)
        let applied: String
        switch reload() {
        case .success(let summary): applied = summary
        case .failure(let failure): applied = "the restored file did not apply: \(failure.message)"
        }
        let message = "configuration of command \(trial.commandID) rolled back (\(reason)); \(applied)"
        logger.error("\(message)")
        events?.record(GatewayEvent(time: options.clock.now(), kind: .configRolledBack, severity: .error, message: message))
        if !trial.commandID.isEmpty {
            commands?.amendReply(commandID: trial.commandID, keyID: trial.keyID, verb: CommandVerb.configSet.rawValue,
                                 code: .configRolledBack, message: message)
        }
    }

    /// `keys.rotate`: new device keys. The reply (signed with the current key) carries the new public
    /// key documents; only after it is out are the new keys stored and the uplink restarted with them.
    /// Batches already sealed keep their old signature; the head-end keeps the old key to verify them.
    func rotateKeys() -> CommandOutcome {
        guard let old = keys else { return .failed(.internalError, "the device keys are unusable; nothing was rotated") }
        let new = DeviceKeys(signing: .generate(), agreement: .generate())
        let deviceID = setup.config.device.id
        let documents = new.publicDocuments(deviceID: deviceID).compactMap { try? JSONParser.parse($0.rendered()) }
        let result = JSONValue.sortedObject(["keys": .array(documents), "previousSigningKey": .string(old.signing.id.hex)])
        return CommandOutcome(message: "new signing key \(new.signing.id) replaces \(old.signing.id)", result: result) { [self] in
            do {
                try DeviceKeyStore(stateDirectory: setup.config.device.stateDirectory).store(new)
            } catch {
                logger.critical("key rotation: the new keys could not be stored (\(error)); the old keys stay in force")
                return
            }
            keys = new
            logger.notice("device keys rotated: signing \(old.signing.id) → \(new.signing.id), agreement \(old.agreement.id) → \(new.agreement.id)")
            restartUplinkWithCurrentKeys()
        }
    }
}
