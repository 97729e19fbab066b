import Foundation
import ConcentratorCore
import MeterProtocols
@testable import MeterSimulator

/// A DLMS test meter: registers (energy with the meter's own scaler_unit, voltage with a profile
/// override), a 15-minute load profile, the clock and a disconnect control.
enum DLMSTestProfiles {
    static let meter: MeterProfile = {
        let section = DLMSProfileSection(
            clientAddress: 16, logicalDevice: 1, security: .none,
            objects: [
                DLMSObjectSpec(quantity: "active_energy_import", classID: 3, logicalName: [1, 0, 1, 8, 0, 255], inLoadProfile: true),
                DLMSObjectSpec(quantity: "active_energy_export", classID: 3, logicalName: [1, 0, 2, 8, 0, 255]),
                DLMSObjectSpec(quantity: "voltage_l1", classID: 3, logicalName: [1, 0, 32, 7, 0, 255], scaler: -1, unit: 35),
                DLMSObjectSpec(quantity: "active_power_total", classID: 3, logicalName: [1, 0, 16, 7, 0, 255]),
                DLMSObjectSpec(quantity: "frequency", classID: 4, logicalName: [1, 0, 14, 7, 0, 255]),
            ],
            loadProfiles: [DLMSLoadProfileSpec(logicalName: [1, 0, 99, 1, 0, 255], periodSeconds: 900, series: .profile, captureObjects: [
                DLMSCaptureObjectSpec(classID: 8, logicalName: [0, 0, 1, 0, 0, 255], attribute: 2),
                DLMSCaptureObjectSpec(classID: 1, logicalName: [0, 0, 96, 10, 1, 255], attribute: 2),
                DLMSCaptureObjectSpec(classID: 3, logicalName: [1, 0, 1, 8, 0, 255], attribute: 2, quantity: "active_energy_import", scaler: 0, unit: 30),
                DLMSCaptureObjectSpec(classID: 3, logicalName: [1, 0, 2, 8, 0, 255], attribute: 2, quantity: "active_energy_export", scaler: 0, unit: 30),
            ])],
            disconnectControl: [0, 0, 96, 3, 10, 255])
        var p = MeterProfile(id: "test-dlms", name: "DLMS test meter", manufacturer: "test", source: "test", protocolKind: .dlms)
        p.dlms = section
        return p
    }()

    static let keys = DLMSSecurityKeys(encryption: DLMSKey(Array(0x00...0x0F))!, authentication: DLMSKey(Array(0xD0...0xDF))!)
    static let otherKeys = DLMSSecurityKeys(encryption: DLMSKey(Array(0x10...0x1F))!, authentication: DLMSKey(Array(0xD0...0xDF))!)
    static let clientTitle: [UInt8] = [0x4D, 0x4D, 0x4D, 0, 0, 0, 0, 1]
    static let password = Array("12345678".utf8)
    static let start = ISO8601.parse("2026-11-21T10:07:00Z")!

    static func server(address: UInt8 = 17, limits: DLMSMeterLimits = DLMSMeterLimits(), profile: MeterProfile = meter) -> DLMSMeterServer {
        var options = DLMSSimulatorOptions()
        options.defaultPassword = password
        options.defaultKeys = keys
        options.limits = limits
        return try! DLMSMeterServer(setup: SimulatedMeterSetup(address: address, profile: profile), options: options, seed: 7)
    }

    static func settings(_ security: DLMSClientSecurity, client: UInt8 = 16, address: UInt16 = 17,
                         hdlc: HDLCParameters = .defaults) -> DLMSClientSettings {
        DLMSClientSettings(clientAddress: client, serverAddress: .server(logical: 1, physical: address), security: security, hdlc: hdlc)
    }

    static let hls = DLMSClientSecurity.highLevelGMAC(keys: keys, clientSystemTitle: clientTitle)
}

/// Performs a session's steps as the bus owner will: `send` writes a transmission, `receive` waits up
/// to the given time for bytes (nil: nothing came). Used in memory and on a PTY alike.
func driveSession<S: MeterSession>(_ session: inout S, send: ([UInt8]) -> Void,
                                   receive: (Duration) -> [UInt8]?) -> Result<S.Outcome, MeterSessionError> {
    var step = session.start()
    var wait = AnswerWait(firstByteWithin: .seconds(1), interCharacterGap: .milliseconds(100))
    var within = wait.firstByteWithin
    for _ in 0..<100_000 {
        switch step {
        case .transmit(let bytes, _, let w):
            send(bytes)
            if let w { wait = w }
            within = wait.firstByteWithin
        case .receive(_, let w):
            wait = w
            within = w.firstByteWithin
        case .awaitMore:
            break
        case .pause:
            step = session.received([])
            continue
        case .finished(let outcome):
            return .success(outcome)
        case .failed(let error):
            return .failure(error)
        }
        if let bytes = receive(within) {
            step = session.received(bytes)
            within = wait.interCharacterGap
        } else {
            step = session.timedOut()
        }
    }
    return .failure(MeterSessionError(.timeout, "the session never ended"))
}

/// Runs client sessions against a simulated DLMS meter in memory: every transmitted frame goes to
/// the server, its answer comes back cut into `chunk`-byte pieces.
struct InMemoryDLMSLine {
    var server: DLMSMeterServer
    var time = DLMSTestProfiles.start
    var fault = MeterFault.none
    var chunk = 5
    private(set) var records: [ServedRecord] = []
    private(set) var transmissions = 0

    init(server: DLMSMeterServer) { self.server = server }

    mutating func run<S: MeterSession>(_ session: inout S) -> Result<S.Outcome, MeterSessionError> {
        var splitter = HDLCFrameSplitter()
        var pending: [UInt8] = []
        return driveSession(&session, send: { bytes in
            transmissions += 1
            for frame in splitter.append(bytes) {
                let a = server.handle(frame, at: time, fault: fault)
                if let r = a.record { records.append(r) }
                pending += a.bytes ?? []
            }
        }, receive: { _ in
            guard !pending.isEmpty else { return nil }
            defer { pending.removeFirst(min(chunk, pending.count)) }
            return Array(pending.prefix(chunk))
        })
    }

    /// Associates with `settings`; the association or the failure.
    mutating func associate(_ settings: DLMSClientSettings, counters: ClosedRange<UInt32> = 1...1000,
                            challenge: [UInt8] = Array("K56iVagY".utf8)) -> Result<DLMSAssociation, MeterSessionError> {
        var session = DLMSSession(DLMSAssociateConversation(challenge: challenge), association: DLMSAssociation(settings: settings, invocationCounters: counters))
        return run(&session).map(\.value)
    }

    mutating func perform(_ operations: [DLMSOperation], on association: inout DLMSAssociation) -> Result<[DLMSOperationResult], MeterSessionError> {
        var session = DLMSSession(DLMSServiceConversation(operations), association: association)
        let result = run(&session)
        association = session.association
        return result.map(\.value)
    }

    /// Reads a whole profile by range, continuing after every block; the rows and the number of steps.
    mutating func readProfile(_ profile: COSEMLogicalName, from: Timestamp, to: Timestamp, on association: inout DLMSAssociation)
        -> Result<(rows: [[DLMSData]], steps: Int), MeterSessionError> {
        var rows: [[DLMSData]] = []
        var conversation = DLMSProfileConversation(profile: profile, access: COSEMProfile.range(from: from, to: to))
        var steps = 0
        while true {
            steps += 1
            var session = DLMSSession(conversation, association: association)
            let result = run(&session)
            association = session.association
            switch result {
            case .failure(let e): return .failure(e)
            case .success(let outcome):
                rows += outcome.value.rows
                guard let next = outcome.value.continuation else { return .success((rows, steps)) }
                conversation = DLMSProfileConversation(continuing: next)
            }
        }
    }
}
