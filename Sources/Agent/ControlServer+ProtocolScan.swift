import Bus
import ConcentratorCore
import Platform

extension ControlRequestHandler {
    /// `scan` with `meterProtocol`: IEC 62056-21 device addresses (an addressed sign-on each), DLMS
    /// HDLC server addresses (SNRM/UA) or the wired M-Bus secondary-address search, queued to the
    /// bus owner like a Modbus scan, with progress.
    func protocolScan(_ request: ControlRequest, kind: MeterProtocolKind, bus: BusOwner,
                      send: @escaping @Sendable (ControlReply, Bool) -> Bool) -> ControlReply {
        let cancellation = ActionCancellation()
        let progress: @Sendable (ScanProgress) -> Void = { p in
            // A client that hung up (Ctrl-C) cancels the scan at the next address.
            if !send(ControlReply(done: false, progress: p), true) { cancellation.cancel() }
        }
        let result: Result<[ScanHit], BusError>
        switch kind {
        case .iec62056_21:
            guard let list = request.deviceAddresses, !list.isEmpty, list.count <= 1000,
                  list.allSatisfy({ $0.utf8.count <= 32 && !$0.contains(where: { "/?!".contains($0) }) }) else {
                return failure("bad-request", "an IEC 62056-21 scan needs \"deviceAddresses\": 1–1000 addresses of at most 32 characters without / ? !")
            }
            let profiles = agent.setup.profiles.profiles.values.filter { $0.iec != nil }.sorted { $0.id < $1.id }
            let limit = request.timeoutMilliseconds.map { Duration.milliseconds(Int64(max(200, min($0, 5000)))) }
            result = bus.scanIEC(addresses: list, profiles: profiles, reactionLimit: limit, cancellation: cancellation, progress: progress)
        case .dlms:
            let range = ConfigurationLoader.hdlcAddressRange
            let list = request.addresses ?? Array((request.from ?? range.lowerBound)...(request.to ?? range.lowerBound + 31))
            guard !list.isEmpty, list.count <= 2000, list.allSatisfy(range.contains) else {
                return failure("bad-request", "a DLMS scan needs HDLC server addresses within \(range.lowerBound)–\(range.upperBound) (at most 2000)")
            }
            let timeout = Duration.milliseconds(Int64(request.timeoutMilliseconds ?? 500))
            result = bus.scanHDLC(addresses: list.map { UInt16($0) }, timeout: timeout, cancellation: cancellation, progress: progress)
        case .mbus:
            let profiles = agent.setup.profiles.profiles.values.filter { $0.protocolKind == .mbus }.sorted { $0.id < $1.id }
            result = bus.scanMBusSecondary(profiles: profiles, cancellation: cancellation, progress: progress)
        default:
            return failure("unsupported", "scans for \(kind.rawValue) meters are not supported on RS-485 buses")
        }
        switch result {
        case .success(let hits): return ControlReply(scan: hits)
        case .failure(let e): return failure(e)
        }
    }
}
