import CPlatform
import ConcentratorCore
import Foundation
@testable import Mesh
import Platform

/// The air between emulated RN2483 modems: a transmission takes its LoRa airtime (slept in real
/// time), then reaches every other modem that is listening. Logs every transmission.
final class EmulatedAir: @unchecked Sendable {
    struct Transmission {
        var modem: Int
        var start: ContinuousClock.Instant
        var airtimeMicroseconds: Int64
        var bytes: Int
    }

    let lock = ConditionLock()
    var modems: [RN2483Emulator] = []
    var log: [Transmission] = []

    func deliver(_ packet: [UInt8], from sender: Int) {
        let receivers = lock.withLock { modems.filter { $0.index != sender } }
        for modem in receivers { modem.hear(packet) }
    }

    var transmissions: [Transmission] { lock.withLock { log } }
}

/// One emulated RN2483 on the master side of a PTY pair (the link opens the slave side): answers
/// `mac pause`, `radio set …`, `radio rx 0`, `radio rxstop` and `radio tx <hex>` as the command
/// reference describes, with the airtime of its configured modulation.
final class RN2483Emulator: @unchecked Sendable {
    let index: Int
    let air: EmulatedAir
    let master: Int32
    let slave: Int32
    private let lock = ConditionLock()
    private var listening = false
    private var stopped = false
    private var modulation = LoRaModulation()
    private(set) var missed = 0
    private(set) var commands: [String] = []

    init(index: Int, air: EmulatedAir) throws {
        var m: Int32 = -1, s: Int32 = -1
        var name = [CChar](repeating: 0, count: 256)
        guard cplatform_open_pty(&m, &s, &name, name.count) == 0 else { throw HarnessFailure("openpty failed") }
        _ = cplatform_set_nonblocking(m, 1)
        _ = cplatform_set_nonblocking(s, 1)
        master = m
        slave = s
        self.index = index
        self.air = air
        air.lock.withLock { air.modems.append(self) }
        DedicatedThread.start(name: "rn2483-\(index)") { [self] in run() }
    }

    var isListening: Bool { lock.withLock { listening } }
    var log: [String] { lock.withLock { commands } }

    func stop() {
        lock.withLock { stopped = true }
        sleepThread(.milliseconds(100))
        close(master)
        close(slave)
    }

    private func reply(_ text: String) { _ = FileDescriptorIO.writeAll(master, RN2483Protocol.line(text)) }

    func hear(_ packet: [UInt8]) {
        let take = lock.withLock { () -> Bool in
            guard listening else {
                missed += 1
                return false
            }
            listening = false
            return true
        }
        if take { reply("radio_rx  " + Hex.encode(packet).uppercased()) }
    }

    private func run() {
        var buffer: [UInt8] = []
        while !lock.withLock({ stopped }) {
            guard let bytes = FileDescriptorIO.read(master, timeoutMilliseconds: 20) else { return }
            buffer += bytes
            while let end = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<end])
                buffer.removeSubrange(...end)
                if line.last == 0x0D { line.removeLast() }
                handle(String(decoding: line, as: UTF8.self))
            }
        }
    }

    private func handle(_ line: String) {
        lock.withLock { commands.append(line) }
        let words = line.split(separator: " ").map(String.init)
        switch words.first {
        case "mac" where words.count == 2 && words[1] == "pause":
            reply("4294967245")
        case "radio":
            guard words.count >= 2 else { return reply("invalid_param") }
            switch words[1] {
            case "set" where words.count == 4:
                let value = words[3]
                switch words[2] {
                case "sf": modulation.spreadingFactor = Int(value.dropFirst(2)) ?? 7
                case "bw": modulation.bandwidthHz = (Int(value) ?? 125) * 1000
                case "cr": modulation.codingRate = (Int(value.dropFirst(2)) ?? 5) - 4
                case "prlen": modulation.preambleSymbols = Int(value) ?? 8
                case "crc": modulation.crc = value == "on"
                default: break
                }
                reply("ok")
            case "rx" where words.count == 3:
                lock.withLock { listening = true }
                reply("ok")
            case "rxstop":
                lock.withLock { listening = false }
                reply("ok")
            case "tx" where words.count == 3:
                guard let packet = Hex.decode(words[2]), !packet.isEmpty, packet.count <= 255 else { return reply("invalid_param") }
                let airtime = modulation.airtimeMicroseconds(payloadBytes: packet.count)
                let start = ContinuousClock.now
                reply("ok")
                sleepThread(.microseconds(airtime))
                air.lock.withLock {
                    air.log.append(EmulatedAir.Transmission(modem: index, start: start, airtimeMicroseconds: airtime, bytes: packet.count))
                }
                reply("radio_tx_ok")
                air.deliver(packet, from: index)
            default:
                reply("invalid_param")
            }
        default:
            reply("invalid_param")
        }
    }
}

struct HarnessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
