import Foundation
import ConcentratorCore
import MeterProtocols

/// A Modbus master on the simulator's line, as a test sees it: the PTY opened O_RDWR|O_NOCTTY in raw
/// mode, requests written whole, answers read as they trickle in.
final class LineClient {
    let fd: Int32

    struct Exchange {
        var bytes: [UInt8]
        /// From just before the request was written to the arrival of the last answer byte, in ms.
        var elapsedMilliseconds: Double
        /// Errno of a failed write or read (EIO once the port has vanished), or 0.
        var errnoCode: Int32 = 0
    }

    init(path: String) throws {
        fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var tio = termios()
        tcgetattr(fd, &tio)
        cfmakeraw(&tio)
        tcsetattr(fd, TCSANOW, &tio)
        tcflush(fd, TCIOFLUSH)
    }

    deinit { close(fd) }

    static func monotonicMilliseconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
    }

    /// Writes `bytes` and collects the answer: until `expected` bytes arrived, or nothing came for
    /// `quiet` after the last byte, or `timeout` passed.
    func exchange(_ bytes: [UInt8], expected: Int? = nil, timeout: Duration = .milliseconds(1500),
                  quiet: Duration = .milliseconds(60)) -> Exchange {
        let start = LineClient.monotonicMilliseconds()
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written != bytes.count { return Exchange(bytes: [], elapsedMilliseconds: 0, errnoCode: errno) }
        var answer: [UInt8] = []
        var last = start
        let deadline = start + timeout.inMilliseconds
        while true {
            let now = LineClient.monotonicMilliseconds()
            if let expected, answer.count >= expected { break }
            if now >= deadline { break }
            if !answer.isEmpty && now - last >= quiet.inMilliseconds { break }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let wait = answer.isEmpty ? deadline - now : min(deadline - now, quiet.inMilliseconds - (now - last))
            guard poll(&pfd, 1, Int32(max(1, wait.rounded(.up)))) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 512)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                answer += chunk[0..<n]
                last = LineClient.monotonicMilliseconds()
            } else if n < 0 && errno == EAGAIN {
                continue
            } else {
                return Exchange(bytes: answer, elapsedMilliseconds: last - start, errnoCode: n < 0 ? errno : EIO)
            }
        }
        return Exchange(bytes: answer, elapsedMilliseconds: last - start)
    }

    /// Sends `request` and decodes the answer (throws the frame error for bad answers; empty answer:
    /// `tooShort(count: 0)`).
    func transact(_ request: ModbusRequest, timeout: Duration = .milliseconds(1500)) throws -> (ModbusResponsePDU, Exchange) {
        let exchange = exchange(ModbusRTUFrame.encode(request), expected: ModbusRTUFrame.expectedResponseLength(to: request),
                                timeout: timeout)
        return (try ModbusRTUFrame.decodeResponse(exchange.bytes, to: request), exchange)
    }

    /// The registers of a register read; throws for any other answer.
    func readRegisters(slave: UInt8, function: UInt8 = 4, start: UInt16, count: UInt16) throws -> [UInt16] {
        let pdu: ModbusRequestPDU = function == 3 ? .readHoldingRegisters(start: start, count: count)
                                                   : .readInputRegisters(start: start, count: count)
        let (response, _) = try transact(ModbusRequest(slave: slave, pdu: pdu))
        guard case .registers(let regs) = response else { throw UnexpectedAnswer(response: response) }
        return regs
    }
}

struct UnexpectedAnswer: Error, CustomStringConvertible {
    var response: ModbusResponsePDU
    var description: String { "unexpected answer \(response)" }
}

/// The served log, parsed with the project's JSON parser (numbers parse back exactly).
func servedRecords(_ path: String) -> [JSONValue] {
    readLines(path).compactMap { try? JSONParser.parse($0) }
}

func readLines(_ path: String) -> [String] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}
