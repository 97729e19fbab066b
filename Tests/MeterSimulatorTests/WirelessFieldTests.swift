import Foundation
import Testing
import ConcentratorCore
import MeterProtocols
import Platform
import TestSupport
@testable import MeterSimulator

/// Fifty wireless meters with mixed security (mode 5 and mode 7) on their own schedules, heard
/// through the simulated iM871A, framed, split and decoded as the agent will: one meter has a wrong
/// key configured (a clear per-meter error, the others unaffected), three are not configured
/// (listed as heard with id, manufacturer, medium, last RSSI and count).
@Suite struct WirelessFieldTests {
    static let library = ProfileLibrary.load(directories: [BuiltProducts.profilesDirectory])
    static let origin = Timestamp(seconds: 1_790_000_000)

    static func key(_ i: Int) -> MeterKey { MeterKey(bytes: (0..<16).map { UInt8(truncatingIfNeeded: $0 * 17 + i * 31 + 1) })! }

    static func meters() -> [WirelessMeterSetup] {
        let profiles = ["sensus-iperl", "qundis-qcaloric-5", "sontex-868", "diehl-hydrus", "sontex-supercom-587"]
        return (0..<50).map { i in
            let map = library.profile(id: profiles[i % profiles.count])!.mbus!
            let model = map.identifications[0]
            let identity = MBusIdentity(number: 0x4000_0000 + UInt32(i / 10) << 4 + UInt32(i % 10), manufacturer: model.manufacturer,
                                        version: model.versions.first ?? 1, medium: model.media.first ?? 7)
            return WirelessMeterSetup(identity: identity, map: map, security: i % 2 == 0 ? .mode5 : .mode7, key: key(i),
                                      intervalSeconds: [16, 30, 60, 120, 600][i % 5], phaseSeconds: Double(i % 13),
                                      linkMode: i % 3 == 0 ? .c1 : .t1, rssiDBm: -95 + i)
        }
    }

    @Test func fiftyMetersMixedSecurityOneWrongKeyThreeUnconfigured() throws {
        let setups = Self.meters()
        let unconfigured: Set<Int> = [7, 22, 41]
        let wrongKey = 13
        var entries: [WirelessMeterEntry] = []
        for (i, s) in setups.enumerated() where !unconfigured.contains(i) {
            entries.append(WirelessMeterEntry(meter: MeterID("w\(i)"), address: MBusSecondaryAddress(exactly: s.identity),
                                              key: i == wrongKey ? Self.key(99) : s.key, map: s.map))
        }
        var router = WirelessMeterRouter(meters: entries, cipher: SwiftCryptoOMSCipher())
        var field = WirelessMeterField(meters: setups, seed: 5, origin: Self.origin)
        var receiver = IM871AEmulator()
        // The host sets C1+T1 first (before that the stick hears T1 only).
        let confirm = receiver.hostWrote(IM871AProtocol().configurationCommand(for: .c1t1).bytes)
        var decoder = IM871AProtocol()
        #expect(decoder.receive(confirm) == [.confirmation(command: "set-config", ok: true)])

        var readings: [String: Int] = [:]
        var failures: [String: [MBusTelegramError]] = [:]
        var sentBy: [Int: Int] = [:]
        var random = SeededRandom(seed: 11)
        var stream: [UInt8] = []
        for telegram in field.telegrams(upTo: 1200) {
            sentBy[telegram.meterIndex, default: 0] += 1
            stream += receiver.indication(for: telegram)!
        }
        #expect(stream.count > 10_000)
        var position = 0
        while position < stream.count {
            let n = 1 + Int(random.next() % 200)
            let chunk = Array(stream[position..<min(stream.count, position + n)])
            position += n
            for event in decoder.receive(chunk) {
                guard case .telegram(let frame) = event else { Issue.record("unexpected \(event)"); continue }
                switch router.receive(frame, at: Self.origin) {
                case .reading(let meter, let telegram, let values, let rssi):
                    readings[meter.rawValue, default: 0] += 1
                    let index = Int(meter.rawValue.dropFirst())!
                    #expect(rssi == setups[index].rssiDBm)
                    #expect(telegram.application.securityMode == (index % 2 == 0 ? 5 : 7))
                    let reading = try #require(values)
                    #expect(reading.missing.isEmpty, "\(meter): \(reading.missing)")
                    #expect(reading.values.allSatisfy { $0.error == nil && $0.value != nil }, "\(meter)")
                case .failed(let meter, _, let error):
                    failures[meter.rawValue, default: []].append(error)
                case .heard:
                    break
                case .undecodable(let why):
                    Issue.record("undecodable frame: \(why)")
                }
            }
        }
        #expect(decoder.pendingCount == 0)
        // Every configured meter with the right key was read; the wrong-key meter never was.
        for i in 0..<50 where !unconfigured.contains(i) && i != wrongKey {
            #expect(readings["w\(i)"] == sentBy[i], "meter \(i)")
        }
        #expect(readings["w\(wrongKey)"] == nil)
        #expect(failures.keys.sorted() == ["w\(wrongKey)"])
        let errors = failures["w\(wrongKey)"] ?? []
        #expect(errors.count == sentBy[wrongKey])
        #expect(errors.allSatisfy { $0.kind == .security && $0.description.contains(setups[wrongKey].identity.numberText) })
        #expect(errors.allSatisfy { !$0.description.lowercased().contains(Hex.encode(Self.key(99).bytes.prefix(4))) })
        // The three unconfigured meters are listed as heard, with what the installer needs.
        let heard = router.heard.entries
        #expect(heard.count == 3)
        for i in unconfigured {
            let entry = try #require(heard.first { $0.identity == setups[i].identity })
            #expect(entry.count == sentBy[i])
            #expect(entry.lastRSSI == setups[i].rssiDBm)
            #expect(entry.securityMode == (i % 2 == 0 ? 5 : 7))
            #expect(MBusMedium.name(entry.identity.medium) != "medium")
        }
        #expect(router.framesUndecodable == 0)
        #expect(router.framesReceived == sentBy.values.reduce(0, +))
    }

    /// The values a meter sends are the model's (at the records' resolution), through encryption.
    @Test func decodedValuesAreTheModelsValues() throws {
        let setup = Self.meters()[1] // mode 7, qundis
        var meter = SimulatedWirelessMeter(setup: setup, seed: 5)
        let time = Self.origin.adding(seconds: 3600)
        let frame = meter.nextFrame(at: time, cipher: SwiftCryptoOMSCipher())
        let layers = try WirelessTelegramDecoder.peel(try WirelessLinkFrame.decode(frame, crc: .absent))
        #expect(layers.afl?.fields?.mac.count == 8)
        let telegram = try WirelessTelegramDecoder.decode(layers, key: setup.key, cipher: SwiftCryptoOMSCipher())
        for value in MBusProfileDecoder.read(telegram.records, map: setup.map).values {
            #expect(abs((value.value ?? .nan) - meter.model.value(value.quantity, at: time)) <= 0.5, "\(value.quantity)")
        }
        // Format A and B encodings of the same frame decode back to it.
        for format in [WirelessFrameFormat.a, .b] {
            #expect(try WirelessLinkFrame.decode(WirelessLinkFrame.encode(frame, format: format), crc: .detect).bytes == frame)
        }
    }

    @Test func theReceiverHearsOnlyItsModeUntilReconfigured() {
        var receiver = IM871AEmulator()
        let t1 = AiredTelegram(secondsAfterOrigin: 0, meterIndex: 0, linkMode: .t1, rssiDBm: -60, frame: WirelessMBusTestsFrame.frame)
        var c1 = t1
        c1.linkMode = .c1
        #expect(receiver.indication(for: t1) != nil && receiver.indication(for: c1) == nil)
        _ = receiver.hostWrote(IM871AProtocol().configurationCommand(for: .c1).bytes)
        #expect(receiver.mode == .c1 && receiver.indication(for: t1) == nil && receiver.indication(for: c1) != nil)
        #expect(receiver.hostWrote(IM871AProtocol.pingCommand()) == [0xA5, 0x01, 0x02, 0x00])
        // A bad link mode is refused with status 1.
        let bad = IM871AMessage(endpoint: 1, messageID: 3, payload: [0, 2, 0x7F, 0]).encode()
        #expect(receiver.hostWrote(bad) == [0xA5, 0x01, 0x04, 0x01, 0x01])
    }

    /// The stream on a real PTY: configure over the port, then telegrams arrive on their schedule.
    @Test func theReceiverStreamsOnAPseudoTerminal() throws {
        let directory = TemporaryDirectory("meter-sim-wmbus")
        let setups = Array(Self.meters().prefix(4)).map { s -> WirelessMeterSetup in
            var fast = s
            fast.intervalSeconds = 0.3
            fast.phaseSeconds = 0.05
            fast.linkMode = .t1
            return fast
        }
        let receiver = try SimulatedWirelessReceiver(configuration: WirelessReceiverConfiguration(meters: setups, linkPath: directory.file("wmbus")))
        try receiver.start()
        defer { receiver.stop() }
        let client = try LineClient(path: directory.file("wmbus"))
        var decoder = IM871AProtocol()
        let answer = client.exchange(IM871AProtocol().configurationCommand(for: .c1t1).bytes, timeout: .milliseconds(1500), quiet: .milliseconds(900))
        let events = decoder.receive(answer.bytes)
        #expect(events.contains(.confirmation(command: "set-config", ok: true)))
        let telegrams = events.filter { if case .telegram = $0 { return true } else { return false } }
        #expect(!telegrams.isEmpty)
        #expect(receiver.status.mode == .c1t1 && receiver.status.sent >= telegrams.count)
    }
}

/// A small valid frame for receiver tests (OMS Annex N N.2.1 without CRCs).
enum WirelessMBusTestsFrame {
    static let frame = Hex.decode("2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3")!
}
