import Foundation
import Platform
import TestSupport

/// A plain HTTP/1.1 exchange over a loopback TCP socket (one request per connection, `Connection:
/// close`), blocking, for the tests of the dashboard server: no redirects followed, no cookie jar.
struct LoopbackHTTP {
    struct Reply: CustomStringConvertible {
        var status: Int
        var headers: [(String, String)]
        var body: String

        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        func headers(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
        /// The value of cookie `name` set by this reply.
        func cookie(_ name: String) -> String? {
            for h in headers("set-cookie") where h.hasPrefix(name + "=") {
                return String(h.dropFirst(name.count + 1).prefix { $0 != ";" })
            }
            return nil
        }
        var description: String { "\(status) \(headers) \(body.prefix(800))" }
    }

    let port: UInt16

    func get(_ path: String, cookies: [String: String] = [:]) async throws -> Reply {
        try await send("GET", path, cookies: cookies, body: nil)
    }

    func post(_ path: String, form: [(String, String)], cookies: [String: String] = [:], origin: String? = nil) async throws -> Reply {
        let body = form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return try await send("POST", path, cookies: cookies, body: body, origin: origin)
    }

    func send(_ method: String, _ path: String, cookies: [String: String], body: String?, origin: String? = nil) async throws -> Reply {
        let port = port
        return try await runOnDedicatedThread {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = port.bigEndian
            let connected = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw HarnessError("connect to 127.0.0.1:\(port) failed: errno \(errno)") }
            var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
            if !cookies.isEmpty { request += "Cookie: " + cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") + "\r\n" }
            if let origin { request += "Origin: \(origin)\r\n" }
            if let body {
                request += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
            } else {
                request += "\r\n"
            }
            try FileDescriptor.writeAll(fd, Array(request.utf8))
            var response: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                response += buffer[0..<n]
            }
            let text = String(decoding: response, as: UTF8.self)
            guard let split = text.range(of: "\r\n\r\n") else { throw HarnessError("no HTTP reply: \(text.prefix(200))") }
            let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
            let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
            let headers = lines.dropFirst().compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            var body = String(text[split.upperBound...])
            if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased() == "chunked" }) { body = Self.unchunk(body) }
            return Reply(status: status, headers: headers, body: body)
        }
    }

    static func unchunk(_ text: String) -> String {
        var out = "", rest = Substring(text)
        while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
            let start = lineEnd.upperBound
            let bytes = Array(rest[start...].utf8)
            out += String(decoding: bytes.prefix(size), as: UTF8.self)
            rest = Substring(String(decoding: bytes.dropFirst(size + 2), as: UTF8.self))
        }
        return out
    }
}
