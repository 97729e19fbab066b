import ConcentratorCore
import Foundation

/// The test vectors a documentation page carries: every `<!-- vector:NAME -->` followed by a fenced
/// block of hex, and every `<!-- sha256:NAME HEX -->`. Tests compare them with what the code makes,
/// so the page cannot drift from the code. (Docs/mesh.md uses both; Docs/mqtt-api.md the first.)
public struct DocumentedVectors {
    public var vectors: [String: [UInt8]] = [:]
    public var digests: [String: String] = [:]

    /// Reads the page at `path` (relative to the package root).
    public init(page path: String) throws {
        let text = try String(contentsOfFile: BuiltProducts.packageRoot + "/" + path, encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        var i = 0
        while i < lines.count {
            let line = lines[i].trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("<!-- vector:"), line.hasSuffix("-->") {
                let name = String(line.dropFirst("<!-- vector:".count).dropLast(3)).trimmingCharacters(in: .whitespaces)
                var hex = ""
                i += 2 // the opening fence
                while i < lines.count, !lines[i].hasPrefix("```") {
                    hex += lines[i]
                    i += 1
                }
                vectors[name] = Hex.decode(hex)
            } else if line.hasPrefix("<!-- sha256:"), line.hasSuffix("-->") {
                let parts = line.dropFirst("<!-- sha256:".count).dropLast(3).split(separator: " ")
                if parts.count == 2 { digests[String(parts[0])] = String(parts[1]) }
            }
            i += 1
        }
    }

    /// A vector as a page shows it: the marker, 32 bytes of hex per line in a fence, and its digest
    /// when one is given.
    public static func block(_ name: String, _ bytes: [UInt8], sha256: String? = nil) -> String {
        var lines: [String] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            lines.append(Hex.encode(rest.prefix(32)))
            rest = rest.dropFirst(32)
        }
        let digest = sha256.map { "<!-- sha256:\(name) \($0) -->\n" } ?? ""
        return "<!-- vector:\(name) -->\n```\n" + lines.joined(separator: "\n") + "\n```\n" + digest
    }
}
