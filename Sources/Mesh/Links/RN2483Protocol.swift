import ConcentratorCore

/// The serial protocol of a Microchip RN2483 LoRa modem used as a plain radio (the "radio" commands
/// of the RN2483 LoRa Technology Module Command Reference User's Guide, DS40001784): ASCII lines
/// ending in CR LF at 57600 8N1. The LoRaWAN stack is paused (`mac pause`), then `radio set …`
/// configures the modulation, `radio tx <hex>` sends one packet of up to 255 bytes (answers `ok`,
/// then `radio_tx_ok` or `radio_err` when the packet has left), and `radio rx 0` listens until one
/// packet arrives (`radio_rx  <hex>`) or `radio rxstop` ends it. Pure: lines in, responses out.
public enum RN2483Protocol {
    /// Largest packet `radio tx` takes.
    public static let maximumPacket = 255
    /// Longest line accepted from the modem (a full packet in hex plus the prefix); longer input is
    /// discarded up to the next line end.
    public static let maximumLine = 2 * maximumPacket + 32

    public static func line(_ text: String) -> [UInt8] { Array(text.utf8) + [0x0D, 0x0A] }

    /// The commands that put the modem into plain LoRa radio mode with `modulation` at `frequencyHz`
    /// and `powerDbm`, each answered by `ok` (the first by the pause duration).
    public static func configuration(modulation: LoRaModulation, frequencyHz: Int, powerDbm: Int) -> [[UInt8]] {
        [
            line("mac pause"),
            line("radio set mod lora"),
            line("radio set freq \(frequencyHz)"),
            line("radio set pwr \(powerDbm)"),
            line("radio set sf sf\(modulation.spreadingFactor)"),
            line("radio set bw \(modulation.bandwidthHz / 1000)"),
            line("radio set cr 4/\(modulation.codingRate + 4)"),
            line("radio set prlen \(modulation.preambleSymbols)"),
            line("radio set crc \(modulation.crc ? "on" : "off")"),
            line("radio set wdt 0"),
        ]
    }

    public static func transmit(_ packet: [UInt8]) -> [UInt8] { line("radio tx " + Hex.encode(packet).uppercased()) }
    public static let listen = line("radio rx 0")
    public static let stopListening = line("radio rxstop")

    /// One line from the modem.
    public enum Response: Hashable, Sendable {
        case ok
        case invalidParameter
        case busy
        /// The packet has been sent.
        case transmitted
        /// `radio_err`: transmission failed, or reception ended without a packet.
        case radioError
        case received([UInt8])
        /// The answer to `mac pause`: how long the stack stays paused, in milliseconds.
        case paused(UInt64)
        /// Anything else (kept for the log; never a secret).
        case other(String)

        public init(line: String) {
            switch line {
            case "ok": self = .ok
            case "invalid_param": self = .invalidParameter
            case "busy": self = .busy
            case "radio_tx_ok": self = .transmitted
            case "radio_err": self = .radioError
            default:
                if line.hasPrefix("radio_rx"), let bytes = Hex.decode(String(line.dropFirst(8))), !bytes.isEmpty,
                   bytes.count <= RN2483Protocol.maximumPacket {
                    self = .received(bytes)
                } else if !line.isEmpty, line.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let n = UInt64(line) {
                    self = .paused(n)
                } else {
                    self = .other(String(line.prefix(80)))
                }
            }
        }
    }

    /// Splits the modem's byte stream into responses; bounded (an over-long line is dropped).
    public struct LineDecoder: Sendable {
        private var buffer: [UInt8] = []
        private var discarding = false
        /// Lines dropped for length.
        public private(set) var overlongLines = 0

        public init() {}

        public mutating func feed(_ bytes: [UInt8]) -> [Response] {
            var out: [Response] = []
            for b in bytes {
                if b == 0x0A {
                    if !discarding {
                        if buffer.last == 0x0D { buffer.removeLast() }
                        if !buffer.isEmpty { out.append(Response(line: String(decoding: buffer, as: UTF8.self))) }
                    }
                    buffer.removeAll(keepingCapacity: true)
                    discarding = false
                } else if !discarding {
                    buffer.append(b)
                    if buffer.count > RN2483Protocol.maximumLine {
                        buffer.removeAll(keepingCapacity: true)
                        discarding = true
                        overlongLines += 1
                    }
                }
            }
            return out
        }
    }
}
