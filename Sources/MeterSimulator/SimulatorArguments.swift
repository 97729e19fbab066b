import ConcentratorCore

/// `--meters FIRST-LAST:PROFILE` (or `ADDR:PROFILE`): a run of slave addresses with one profile.
public struct MeterRangeArgument: Hashable, Sendable {
    public var addresses: ClosedRange<UInt8>
    public var profileID: String

    public init(addresses: ClosedRange<UInt8>, profileID: String) {
        self.addresses = addresses
        self.profileID = profileID
    }

    public static func parse(_ text: String) throws(SimulatorArgumentError) -> MeterRangeArgument {
        guard let colon = text.firstIndex(of: ":") else {
            throw .invalid(what: "meters", value: text, expected: "FIRST-LAST:PROFILE or ADDR:PROFILE, e.g. 1-32:eastron-sdm630")
        }
        let profile = String(text[text.index(after: colon)...])
        guard !profile.isEmpty else { throw .invalid(what: "profile id", value: text, expected: "a profile id after the colon") }
        let range = try parseRange(String(text[..<colon]), what: "address range", within: 1...247)
        return MeterRangeArgument(addresses: UInt8(range.lowerBound)...UInt8(range.upperBound), profileID: profile)
    }

    /// Turns the ranges into one list of (address, profile id), checking for addresses given twice
    /// and the per-line limit.
    public static func expand(_ ranges: [MeterRangeArgument]) throws(SimulatorArgumentError) -> [(address: UInt8, profileID: String)] {
        var seen = Set<UInt8>()
        var out: [(address: UInt8, profileID: String)] = []
        for range in ranges {
            for a in range.addresses {
                guard seen.insert(a).inserted else {
                    throw .invalid(what: "meters", value: "\(range.addresses.lowerBound)-\(range.addresses.upperBound):\(range.profileID)",
                                   expected: "each address once (\(a) is given twice)")
                }
                out.append((a, range.profileID))
            }
        }
        guard out.count <= SimulatorConfiguration.maximumMeters else {
            throw .invalid(what: "meter count", value: String(out.count), expected: "at most \(SimulatorConfiguration.maximumMeters) meters on one line")
        }
        return out
    }
}

/// `--turnaround MIN-MAX` or `--turnaround MS`, in milliseconds.
public enum TurnaroundArgument {
    public static func parse(_ text: String) throws(SimulatorArgumentError) -> ClosedRange<Int> {
        try parseRange(text, what: "turnaround", within: 0...10_000)
    }
}

/// `N` or `LOW-HIGH` within `bounds`.
func parseRange(_ text: String, what: String, within bounds: ClosedRange<Int>) throws(SimulatorArgumentError) -> ClosedRange<Int> {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
    let expected = "N or LOW-HIGH within \(bounds.lowerBound)-\(bounds.upperBound)"
    guard (1...2).contains(parts.count), let low = parts.first ?? nil, let high = parts.last ?? nil,
          low <= high, bounds.contains(low), bounds.contains(high) else {
        throw .invalid(what: what, value: text, expected: expected)
    }
    return low...high
}

/// `--parity none|even|odd`.
public enum ParityArgument {
    public static func parse(_ text: String) throws(SimulatorArgumentError) -> Parity {
        guard let p = Parity(rawValue: text) else { throw .invalid(what: "parity", value: text, expected: "none, even or odd") }
        return p
    }
}
