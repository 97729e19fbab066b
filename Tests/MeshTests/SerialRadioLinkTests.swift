import ConcentratorCore
import Foundation
@testable import Mesh
import Platform
import Testing

@Suite("Serial LoRa radio (RN2483) over a PTY pair", .serialized)
struct SerialRadioLinkTests {
    /// SF7 at 500 kHz keeps the emulated airtime short (about 80 ms for 200 bytes).
    static var settings: SerialRadioLink.Settings {
        var s = SerialRadioLink.Settings()
        s.modulation = LoRaModulation(spreadingFactor: 7, bandwidthHz: 500_000)
        // 10 % of a 4-second window: 400 ms of airtime, so the test reaches the limit quickly.
        s.dutyCycle = 0.1
        s.dutyCycleWindowMilliseconds = 4_000
        return s
    }

    @Test("the modem's lines: responses, received packets, every split of the stream, over-long lines dropped")
    func lineDecoder() {
        let stream = Array("4294967245\r\nok\r\nradio_tx_ok\r\nradio_rx  0A0B0C\r\nradio_err\r\ninvalid_param\r\nbusy\r\nwhat\r\n".utf8)
        let expected: [RN2483Protocol.Response] = [.paused(4_294_967_245), .ok, .transmitted, .received([0x0A, 0x0B, 0x0C]), .radioError,
                                                   .invalidParameter, .busy, .other("what")]
        for split in 0...stream.count {
            var d = RN2483Protocol.LineDecoder()
            let out = d.feed(Array(stream[..<split])) + d.feed(Array(stream[split...]))
            #expect(out == expected, "split at \(split)")
        }
        var d = RN2483Protocol.LineDecoder()
        #expect(d.feed([UInt8](repeating: 0x41, count: RN2483Protocol.maximumLine + 10) + Array("\r\nok\r\n".utf8)) == [.ok])
        #expect(d.overlongLines == 1)
        // A received packet with bad hex is not taken as a packet.
        #expect(RN2483Protocol.Response(line: "radio_rx  0G") == .other("radio_rx  0G"))
        #expect(RN2483Protocol.transmit([0xAB, 0x01]) == Array("radio tx AB01\r\n".utf8))
        let config = RN2483Protocol.configuration(modulation: LoRaModulation(spreadingFactor: 9, bandwidthHz: 250_000, codingRate: 2),
                                                  frequencyHz: 868_300_000, powerDbm: 14).map { String(decoding: $0, as: UTF8.self) }
        #expect(config.contains("radio set sf sf9\r\n") && config.contains("radio set bw 250\r\n") && config.contains("radio set cr 4/6\r\n"))
        #expect(config.first == "mac pause\r\n")
    }

    @Test("a fragmented frame crosses the emulated radio, is reassembled, and the duty budget holds (summed airtime)")
    func fragmentsAndBudget() throws {
        let air = EmulatedAir()
        let modemA = try RN2483Emulator(index: 0, air: air)
        let modemB = try RN2483Emulator(index: 1, air: air)
        defer { modemA.stop(); modemB.stop() }
        let a = try SerialRadioLink(fileDescriptor: modemA.slave, ownsDescriptor: false, settings: Self.settings)
        let b = try SerialRadioLink(fileDescriptor: modemB.slave, ownsDescriptor: false, settings: Self.settings)
        defer { a.stop(); b.stop() }
        let inbox = DatagramInbox()
        try a.start { _ in }
        try b.start { inbox.add($0) }
        let ready = ContinuousClock.now + .seconds(5)
        while !(modemA.isListening && modemB.isListening) && ContinuousClock.now < ready { sleepThread(.milliseconds(20)) }
        #expect(modemB.log.contains("radio set sf sf7") && modemB.log.contains("radio set bw 500"))

        // A 1500-byte sealed batch in one data frame, fragmented for the 200-byte MTU.
        var frame = MeshFixtures.data
        frame.payload = MeshRoutedPayload(deviceID: "gw-0002", body: (0..<1_500).map { UInt8(truncatingIfNeeded: $0 * 7) }).encoded()
        let sealed = MeshFixtures.authenticator.seal(frame)
        let fragments = try #require(MeshFragment.datagrams(for: sealed, sender: MeshFixtures.relay, tag: 77, mtu: 200))
        #expect(fragments.count == 9)
        var deferrals = 0
        for fragment in fragments {
            while true {
                do {
                    try a.send(fragment, to: .broadcast, priority: .newestInterval)
                    break
                } catch {
                    guard case .dutyCycle(_, let verdict) = error else { throw error }
                    deferrals += 1
                    if case .deferred(let until) = verdict {
                        sleepThread(.milliseconds(max(10, until.milliseconds - MonotonicClock().now().milliseconds)))
                    }
                }
            }
        }
        let received = inbox.wait(for: fragments.count, timeout: .seconds(30))
        #expect(received.count == fragments.count && modemB.missed == 0)
        var reassembler = MeshReassembler()
        var whole: [UInt8]?
        for d in received {
            if let w = try reassembler.accept(try MeshFragment.decode(d.bytes), at: d.receivedAt) { whole = w }
        }
        #expect(try MeshFixtures.authenticator.open(try #require(whole)) == frame)

        // The budget held: the newest-interval class may use 75 % of 400 ms in any 4 s window.
        #expect(deferrals > 0, "9 fragments of ~80 ms exceed 300 ms per window, so some had to wait")
        let log = air.transmissions.filter { $0.modem == 0 }
        #expect(log.count == fragments.count)
        let allowance: Int64 = 300_000
        for t in log {
            let window = log.filter { $0.start <= t.start && t.start - $0.start < .milliseconds(4_000 - 250) }
            let sum = window.reduce(Int64(0)) { $0 + $1.airtimeMicroseconds }
            #expect(sum <= allowance, "\(sum) µs of airtime within 4 s")
        }
        let total = log.reduce(Int64(0)) { $0 + $1.airtimeMicroseconds }
        #expect(total == fragments.reduce(Int64(0)) { $0 + Self.settings.modulation.airtimeMicroseconds(payloadBytes: $1.count) })
        #expect(a.statistics.airtimeMicroseconds == total && a.statistics.datagramsSent == fragments.count)
        #expect(a.dutyCycleStatus().usedMicroseconds <= 400_000)
    }

    @Test("settings without a known duty-cycle limit, or an MTU beyond the modem's, are refused")
    func refusedSettings() throws {
        var s = SerialRadioLink.Settings()
        s.frequencyHz = 869_525_000
        #expect(throws: MeshLinkError.self) { try SerialRadioLink(fileDescriptor: -1, ownsDescriptor: false, settings: s) }
        s = SerialRadioLink.Settings()
        s.mtu = 300
        #expect(throws: MeshLinkError.self) { try SerialRadioLink(fileDescriptor: -1, ownsDescriptor: false, settings: s) }
        let link = try SerialRadioLink(fileDescriptor: -1, ownsDescriptor: false)
        #expect(throws: MeshLinkError.self) { try link.send([1], to: .broadcast, priority: .event) }
        #expect(link.properties.dutyCycle == 0.01 && link.properties.mtu == 200)
    }
}
