import Agent
import ArgumentParser
import Bus
import ConcentratorCore
import Console
import Platform

/// `concentrator scan --protocol iec62056-21|dlms|mbus`: the IEC 62056-21 addressed sign-on over a
/// list of device addresses, the DLMS HDLC server-address scan (SNRM/UA), or the wired M-Bus
/// secondary-address search, through the running agent (else on the port directly), with a
/// progress bar; each find with its address and the installed profile that fits.
extension Scan {
    /// The IEC device addresses: `a,b,c` or `FIRST-LAST` (decimal, FIRST's width kept).
    static func iecAddresses(_ text: String) -> [String]? {
        let parts = text.split(separator: ",").map { String($0.filter { $0 != " " }) }
        var out: [String] = []
        for part in parts where !part.isEmpty {
            let ends = part.split(separator: "-", maxSplits: 1).map(String.init)
            if ends.count == 2, let a = Int(ends[0]), let b = Int(ends[1]), a <= b, b - a < 1000 {
                let width = ends[0].count
                out += (a...b).map { n in String(repeating: "0", count: max(0, width - String(n).count)) + String(n) }
            } else {
                guard part.utf8.count <= 32, !part.contains(where: { "/?!".contains($0) }) else { return nil }
                out.append(part)
            }
        }
        return out.isEmpty || out.count > 1000 ? nil : out
    }

    var protocolKind: MeterProtocolKind? { MeterProtocolKind(rawValue: meterProtocol) }

    func validateProtocolScan() throws {
        switch protocolKind {
        case .iec62056_21?:
            guard let deviceAddresses, Self.iecAddresses(deviceAddresses) != nil else {
                throw ValidationError("--protocol iec62056-21 needs --device-addresses: 1-1000 addresses (a,b or FIRST-LAST) of at most 32 characters without / ? !")
            }
        case .dlms?:
            if let addresses, case .failure(let problem) = AddressSelection.list(addresses, within: 16...16381) {
                throw ValidationError("--addresses: \(problem.message) (HDLC server addresses 16-16381)")
            }
        case .mbus?:
            break
        default:
            throw ValidationError("--protocol must be modbus, iec62056-21, dlms or mbus")
        }
    }

    func runProtocolScan(_ setup: AgentSetup) throws {
        let kind = protocolKind!
        let name = BusName(bus)
        let iec = deviceAddresses.flatMap(Self.iecAddresses)
        let dlms = addresses.flatMap { try? AddressSelection.list($0, within: 16...16381).get() } ?? Array(max(16, from)...max(16, to))
        let showProgress = !json
        let report: @Sendable (ScanProgress) -> Void = { p in
            if showProgress { Output.progress(done: p.done, total: p.total, suffix: "found \(p.found)") }
        }
        let hits: [ScanHit]
        if let client = ControlClient.connectIfRunning(path: controlSocketPath(setup, override: controlSocket)) {
            let request = ControlRequest(op: "scan", bus: name, timeoutMilliseconds: timeoutMs, addresses: kind == .dlms ? dlms : nil,
                                         meterProtocol: kind, deviceAddresses: iec)
            do throws(ControlFailure) {
                hits = try client.call(request, timeout: .seconds(3600)) { reply in if let p = reply.progress { report(p) } }.scan ?? []
            } catch {
                Output.error(error.description)
                throw ExitCode(ExitStatus.failure)
            }
        } else {
            let direct = DirectBus(setup: setup, bus: name)
            let profiles = setup.profiles.profiles.values.filter { $0.protocolKind == kind }.sorted { $0.id < $1.id }
            let result: Result<[ScanHit], BusError> = switch kind {
            case .iec62056_21: direct.owner.scanIEC(addresses: iec ?? [], profiles: profiles, progress: report)
            case .dlms: direct.owner.scanHDLC(addresses: dlms.map { UInt16($0) }, timeout: .milliseconds(Int64(timeoutMs)), progress: report)
            default: direct.owner.scanMBusSecondary(profiles: profiles, progress: report)
            }
            hits = try Self.hitsOrExit(result)
        }
        printHits(hits, title: "\(hits.filter { !$0.isGarbled }.count) \(kind.rawValue) meters answered on bus \(bus)", addressWidth: 18)
    }

    /// The hits of a scan run on the port directly, or its error printed and exit 1.
    static func hitsOrExit(_ result: Result<[ScanHit], BusError>) throws -> [ScanHit] {
        switch result {
        case .success(let h): return h
        case .failure(let e):
            Output.error(e.description)
            throw ExitCode(ExitStatus.failure)
        }
    }

    /// Prints the hits as JSON (`--json`) or as a table under `title`: address, profile, verdict.
    func printHits(_ hits: [ScanHit], title: String, addressWidth: Int) {
        if json {
            LogOutputLine.stdout(JSONText.encode(hits))
            return
        }
        LogOutputLine.stdout(title)
        for hit in hits {
            for line in TextLayout.wrappedRow([(hit.addressText, addressWidth, true), (hit.profile ?? (hit.isGarbled ? "GARBLED" : "unknown"), 20, false),
                                               (hit.verdict ?? hit.detail, 0, false)]) {
                LogOutputLine.stdout(line)
            }
        }
    }
}
