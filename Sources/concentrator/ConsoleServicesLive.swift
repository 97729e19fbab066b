import Agent
import Archive
import Bus
import ConcentratorCore
import Mesh
import Console
import KeyFiles
import Logging
import Platform
import Wire

/// The console's screen is stdout/stderr: library log lines must not land on it.
let consoleLogger = Logger(label: "console", factory: { _ in SwiftLogNoOpLogHandler() })

/// The agent's own validator for configuration text (profile load failures become issues).
@Sendable func validateConfiguration(_ text: String, _ source: String) -> ValidationFailure? {
    do {
        _ = try AgentSetup.validate(text: text, source: source)
        return nil
    } catch {
        switch error {
        case .invalid(let failure): return failure
        case .profiles(let failures):
            return ValidationFailure(source: source, issues: failures.map { ValidationIssue(path: $0.path, problem: $0.description) })
        case .unreadable(let e): return ValidationFailure(source: source, issues: [ValidationIssue(path: "$", problem: e.description)])
        case .boardUnreadable(let e):
            return ValidationFailure(source: source, issues: [ValidationIssue(path: "$.device.board", problem: e.description)])
        case .boardInvalid(let failure): return failure
        case .timeZone(let problem):
            return ValidationFailure(source: source, issues: [ValidationIssue(path: "$.monitoring.location.timeZone", problem: problem)])
        }
    }
}

/// Scans and reads with the port opened by the console (the agent is stopped).
struct ConsoleDirectBus: DirectBusAccess {
    /// The working copy reduced to what one bus needs (device, buses, archive, and `meters`),
    /// validated by the agent's rules.
    private func setup(_ configText: String, meters: (JSONValue) -> Bool) -> Result<AgentSetup, ServiceProblem> {
        guard let root = try? JSONParser.parse(configText), let members = root.members else {
            return .failure(ServiceProblem("the working configuration is not readable"))
        }
        let kept = members.filter { ["device", "buses", "archive"].contains($0.key) }
            + [JSONMember(key: "meters", value: .array((root["meters"]?.arrayValue ?? []).filter(meters)))]
        do {
            return .success(try AgentSetup.validate(text: JSONWriter.render(.object(kept), pretty: true), source: "working copy"))
        } catch {
            return .failure(ServiceProblem("the bus settings are not valid yet: \(error)"))
        }
    }

    func scan(configText: String, bus: String, addresses: [Int], timeoutMilliseconds: Int,
              cancellation: ActionCancellation, progress: @escaping @Sendable (ScanProgress) -> Void) -> Result<[ScanHit], ServiceProblem> {
        let setup: AgentSetup
        switch self.setup(configText, meters: { _ in false }) {
        case .success(let s): setup = s
        case .failure(let p): return .failure(p)
        }
        let direct = DirectBus(setup: setup, bus: BusName(bus), logger: consoleLogger)
        let profiles = setup.profiles.profiles.values.filter { $0.protocolKind == .modbus }.sorted { $0.id < $1.id }
        return direct.owner.scan(addresses: addresses.map { UInt8($0) }, profiles: profiles,
                                 timeout: .milliseconds(Int64(timeoutMilliseconds)), cancellation: cancellation, progress: progress)
            .mapError { ServiceProblem($0.description) }
    }

    func read(configText: String, meter: String, cancellation: ActionCancellation) -> Result<MeterSnapshot, ServiceProblem> {
        let setup: AgentSetup
        switch self.setup(configText, meters: { $0["id"]?.stringValue == meter }) {
        case .success(let s): setup = s
        case .failure(let p): return .failure(p)
        }
        guard let settings = setup.config.meter(MeterID(meter)) else { return .failure(ServiceProblem("no meter \(meter)")) }
        let direct = DirectBus(setup: setup, bus: settings.bus, logger: consoleLogger)
        return direct.owner.readNow(meter: settings.id).mapError { ServiceProblem($0.description) }
    }
}

/// Device fingerprints and head-end key files, with the Uplink module's key types.
struct ConsoleKeys: KeyServices {
    func meshKeyFingerprint(_ key: [UInt8]) -> String? { (try? MeshNetworkKey(bytes: key))?.fingerprint }

    func deviceKeys(stateDirectory: String, deviceID: String, create: Bool) -> Result<[String], ServiceProblem> {
        let store = DeviceKeyStore(stateDirectory: stateDirectory)
        let keys: DeviceKeys
        do {
            if create {
                keys = try store.loadOrCreate().keys
            } else {
                guard FileSystem.exists(store.signingKeyPath) else {
                    return .failure(ServiceProblem("not created yet (\(store.directory)); the agent creates them at start, or choose create"))
                }
                keys = try store.load()
            }
        } catch {
            return .failure(ServiceProblem(error.description))
        }
        let s = keys.signing.publicKey, a = keys.agreement.publicKey
        return .success(["  device \(deviceID)",
                         "  signing   ed25519  id \(s.id)", "    \(s.fingerprint)",
                         "  agreement x25519   id \(a.id)", "    \(a.fingerprint)"])
    }

    func deviceKeyList(stateDirectory: String) -> Result<[ReportedKey], ServiceProblem> {
        let store = DeviceKeyStore(stateDirectory: stateDirectory)
        guard FileSystem.exists(store.signingKeyPath) else {
            return .failure(ServiceProblem("the device keys are not created yet (\(store.directory))"))
        }
        do {
            let keys = try store.load()
            return .success([ReportedKey(role: "device signing", algorithm: "ed25519", id: keys.signing.id.hex,
                                         fingerprint: keys.signing.publicKey.fingerprint),
                             ReportedKey(role: "device agreement", algorithm: "x25519", id: keys.agreement.id.hex,
                                         fingerprint: keys.agreement.publicKey.fingerprint)])
        } catch {
            return .failure(ServiceProblem(error.description))
        }
    }

    func headEndKey(role: String, publicKey: [UInt8]) -> Result<HeadEndKeyInfo, ServiceProblem> {
        let document: PublicKeyDocument
        do {
            if role == "sealing" {
                document = PublicKeyDocument(try AgreementPublicKey(rawRepresentation: publicKey), role: role)
            } else {
                document = PublicKeyDocument(try SigningPublicKey(rawRepresentation: publicKey), role: role)
            }
        } catch {
            return .failure(ServiceProblem("\(error); check that the key is the head-end's \(role) key"))
        }
        return .success(info(document))
    }

    func headEndKeyFile(path: String) -> Result<HeadEndKeyInfo, ServiceProblem> {
        do {
            return .success(info(try PublicKeyDocument.load(path: path)))
        } catch {
            return .failure(ServiceProblem(error.description))
        }
    }

    private func info(_ d: PublicKeyDocument) -> HeadEndKeyInfo {
        HeadEndKeyInfo(algorithm: d.algorithm.rawValue, role: d.role, id: d.id.hex, fingerprint: publicKeyFingerprint(d.publicKey),
                       fileText: d.rendered())
    }
}

/// Archive export with the Archive module's exporter (a read-only connection; safe while the agent runs).
struct ConsoleArchiveExport: ArchiveExportService {
    func export(stateDirectory: String, from: Timestamp, to: Timestamp, meter: String?, format: String,
                sink: @escaping ([UInt8]) -> Bool) -> Result<String, ServiceProblem> {
        let path = FileSystem.join(stateDirectory, "archive.sqlite")
        guard FileSystem.exists(path) else { return .failure(ServiceProblem("no archive at \(path) yet; the agent creates it when it runs")) }
        let reader: ArchiveReader
        do { reader = try ArchiveReader(path: path) } catch { return .failure(ServiceProblem("cannot open the archive: \(error)")) }
        defer { reader.close() }
        /// The sink asked to stop (the screen is full).
        struct Stopped: Error {}
        let request = ExportRequest(from: from, to: to, meter: meter.map { MeterID($0) }, series: .interval,
                                    format: ExportFormat(rawValue: format) ?? .csv)
        do {
            let summary = try ArchiveExporter(reader: reader).export(request, to: { bytes in
                if !sink(bytes) { throw Stopped() }
            })
            return .success("\(summary.snapshots) snapshots, \(summary.values) values, \(summary.bytes / 1024) KiB")
        } catch {
            return .failure(ServiceProblem("\(error)"))
        }
    }
}

/// Time zone and log, through timedatectl and journalctl.
struct ConsoleSystemActions: SystemActions {
    func setTimeZone(_ zone: String) -> Result<String, ServiceProblem> {
        guard let program = ProgramSpawner.find("timedatectl") else {
            return .failure(ServiceProblem("timedatectl is not installed; as root: ln -sf /usr/share/zoneinfo/\(zone) /etc/localtime"))
        }
        switch ProgramSpawner.run(program, ["set-timezone", zone]) {
        case .success(let done) where done.status == 0: return .success("time zone set to \(zone)")
        case .success(let done):
            let reason = done.output.split(separator: "\n").last.map(String.init) ?? "exit \(done.status)"
            return .failure(ServiceProblem("\(reason); it needs root or polkit rights (as root: timedatectl set-timezone \(zone))"))
        case .failure(let e): return .failure(ServiceProblem(e.description))
        }
    }

    func agentLog(lines: Int) -> Result<[String], ServiceProblem> {
        guard let program = ProgramSpawner.find("journalctl") else {
            return .failure(ServiceProblem("journalctl is not installed; the agent logs to stderr of its service"))
        }
        switch ProgramSpawner.run(program, ["-u", "concentrator.service", "-n", String(lines), "--no-pager", "-o", "short-iso"]) {
        case .success(let done) where done.status == 0:
            return .success(done.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty })
        case .success(let done):
            return .failure(ServiceProblem("journalctl failed (exit \(done.status)): \(done.output.split(separator: "\n").first ?? "")"
                + "; the console's user may need the systemd-journal group"))
        case .failure(let e): return .failure(ServiceProblem(e.description))
        }
    }
}
