import Testing
import ConcentratorCore
import TestSupport
@testable import MeterProtocols

/// The iM871A HCI framing (IMST WMBus HCI specification, as wmbusmeters src/wmbus_im871a.cc and
/// .h implement it): SOF A5, control/endpoint, message id, length, payload, optional timestamp,
/// RSSI and CRC-16/X-25.
@Suite struct IM871AReceiverTests {
    /// The SET_CONFIG request wmbusmeters sends for T1 (wmbus_im871a.cc deviceSetLinkModes):
    /// A5 01 03 06 | 00 (volatile) 02 (IIFlag1: link mode) 03 (T1) 30 (IIFlag2: RSSI, timestamp) 01 00.
    @Test func configurationCommandsAreTheDocumentedBytes() {
        let p = IM871AProtocol()
        #expect(p.configurationCommand(for: .t1).bytes == [0xA5, 0x01, 0x03, 0x06, 0x00, 0x02, 0x03, 0x30, 0x01, 0x00])
        #expect(p.configurationCommand(for: .c1).bytes[6] == 0x06)
        #expect(p.configurationCommand(for: .c1t1).bytes[6] == 0x0A)
        #expect(IM871AProtocol.pingCommand() == [0xA5, 0x01, 0x01, 0x00])
        #expect(IM871AProtocol.line.baud == 57_600)
    }

    @Test func rssiScale() {
        #expect(IM871AMessage.rssiDBm(45) == -100)
        #expect(IM871AMessage.rssiDBm(205) == -20)
        #expect(IM871AMessage.rssiDBm(250) == 0)
        for dBm in stride(from: -100, through: -20, by: 5) { #expect(IM871AMessage.rssiDBm(IM871AMessage.rawRSSI(dBm: dBm)) == dBm) }
    }

    /// A stream: noise, a telegram indication (the OMS N.2.1 frame without its L field, RSSI and CRC
    /// attached), a SET_CONFIG confirmation, a PING response, an indication with a bad CRC, another
    /// indication with a timestamp. Split at every byte: the same events.
    @Test func theDecoderFindsTheSameMessagesAtEverySplit() {
        let frame = WirelessMBusTests.annexN21
        let indication = IM871AMessage(endpoint: 2, messageID: 3, payload: Array(frame.dropFirst()), rssi: 125, withCRC: true).encode()
        #expect(indication[0] == 0xA5 && indication[1] == 0xC2 && indication[3] == UInt8(frame.count - 1))
        var badCRC = indication
        badCRC[badCRC.count - 1] ^= 0xFF
        let stamped = IM871AMessage(endpoint: 2, messageID: 3, payload: Array(frame.dropFirst()), timestamp: 0x0102_0304, rssi: 45).encode()
        let stream = [0x00, 0x13] + indication + [0xA5, 0x01, 0x04, 0x01, 0x00] + [0xA5, 0x01, 0x02, 0x00] + badCRC + stamped
        var whole = IM871AProtocol()
        let expected = whole.receive(stream)
        let telegrams = expected.compactMap { e -> ReceivedRadioFrame? in if case .telegram(let t) = e { return t } else { return nil } }
        #expect(telegrams.count == 2)
        #expect(telegrams.allSatisfy { $0.bytes == frame && $0.crc == .absent })
        #expect(telegrams.map(\.rssiDBm) == [-60, -100])
        #expect(expected.contains(.confirmation(command: "set-config", ok: true)))
        #expect(expected.contains(.confirmation(command: "ping", ok: true)))
        #expect(expected.contains { if case .discarded(_, let r) = $0 { return r.contains("CRC") } else { return false } })
        for split in 0...stream.count {
            var p = IM871AProtocol()
            let events = p.receive(Array(stream[0..<split])) + p.receive(Array(stream[split...]))
            let got = events.compactMap { e -> ReceivedRadioFrame? in if case .telegram(let t) = e { return t } else { return nil } }
            #expect(got == telegrams, "split at \(split)")
            #expect(events.filter { if case .confirmation = $0 { return true } else { return false } }.count == 2)
            #expect(p.pendingCount == 0)
        }
        var p = IM871AProtocol()
        #expect(stream.flatMap { p.receive([$0]) }.filter { if case .telegram = $0 { return true } else { return false } }.count == 2)
        #expect(IM871AProtocol.decodeMessage(indication)?.payload == Array(frame.dropFirst()))
        #expect(IM871AProtocol.decodeMessage(Array(indication.dropLast())) == nil)
    }

    /// The configuration session keeps telegrams that arrive before the confirmation, and retries once.
    @Test func configurationSessionConfirmsAndKeepsTelegrams() {
        let indication = IM871AMessage(endpoint: 2, messageID: 3, payload: Array(WirelessMBusTests.annexN21.dropFirst()), rssi: 125,
                                       withCRC: true).encode()
        var session = WirelessReceiverConfigurationSession(receiver: IM871AProtocol(), mode: .c1t1)
        var calls = 0
        let run = MeterSessionDriver.run(&session, chunk: 7) { request in
            calls += 1
            #expect(request[6] == 0x0A)
            return calls == 1 ? indication : indication + [0xA5, 0x01, 0x04, 0x01, 0x00]
        }
        guard case .success(let setup) = run.result else { Issue.record("\(run.result)"); return }
        #expect(setup.confirmed && setup.telegrams.count == 2 && run.written.count == 2 && run.timeouts == 1)
        #expect(run.lineSwitches.first == IM871AProtocol.line)
        var refused = WirelessReceiverConfigurationSession(receiver: IM871AProtocol(), mode: .t1)
        let no = MeterSessionDriver.run(&refused) { _ in [0xA5, 0x01, 0x04, 0x01, 0x01] }
        guard case .failure(let error) = no.result else { Issue.record("accepted a refusal"); return }
        #expect(error.kind == .refused)
        var silent = WirelessReceiverConfigurationSession(receiver: IM871AProtocol(), mode: .t1, attempts: 2)
        guard case .failure(let timeout) = MeterSessionDriver.run(&silent, respond: { _ in [] }).result else { Issue.record("no timeout"); return }
        #expect(timeout.kind == .timeout)
    }
}
