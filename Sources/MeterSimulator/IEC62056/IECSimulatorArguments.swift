/// `--iec-meters FIRST-LAST:PROFILE` (or `ADDR:PROFILE`): IEC 62056-21 meters whose device addresses
/// are the decimal numbers FIRST…LAST, each printed with FIRST's width (`00000001-00000020:…` gives
/// `00000001` … `00000020`).
public struct IECMeterRangeArgument: Hashable, Sendable {
    public var addresses: [String]
    public var profileID: String

    public init(addresses: [String], profileID: String) {
        self.addresses = addresses
        self.profileID = profileID
    }

    public static func parse(_ text: String) throws(SimulatorArgumentError) -> IECMeterRangeArgument {
        let form = "FIRST-LAST:PROFILE or ADDR:PROFILE with decimal addresses, e.g. 00000001-00000020:iskraemeco-me162"
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex else {
            throw .invalid(what: "IEC meters", value: text, expected: form)
        }
        let profile = String(text[text.index(after: colon)...])
        guard !profile.isEmpty else { throw .invalid(what: "profile id", value: text, expected: "a profile id after the colon") }
        let parts = text[..<colon].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), let firstText = parts.first, let lastText = parts.last,
              !firstText.isEmpty, firstText.count <= 16, firstText.allSatisfy(\.isASCII), let first = UInt64(firstText),
              let last = UInt64(lastText), first <= last, last - first < UInt64(SimulatorConfiguration.maximumMeters) else {
            throw .invalid(what: "IEC address range", value: String(text[..<colon]), expected: form + " (at most 64 addresses)")
        }
        let width = firstText.count
        let addresses = (first...last).map { n -> String in
            let s = String(n)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return IECMeterRangeArgument(addresses: addresses, profileID: profile)
    }

    /// Every (address, profile id), checking addresses given twice.
    public static func expand(_ ranges: [IECMeterRangeArgument]) throws(SimulatorArgumentError) -> [(address: String, profileID: String)] {
        var seen = Set<String>()
        var out: [(address: String, profileID: String)] = []
        for range in ranges {
            for a in range.addresses {
                guard seen.insert(a).inserted else {
                    throw .invalid(what: "IEC meters", value: a, expected: "each device address once")
                }
                out.append((a, range.profileID))
            }
        }
        return out
    }
}

/// `--iec-fault ADDR=FAULT`: a fault of one IEC meter from the start.
public struct IECFaultArgument: Hashable, Sendable {
    public var address: String
    public var fault: IECMeterFault

    public static func parse(_ text: String) throws(SimulatorArgumentError) -> IECFaultArgument {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw .invalid(what: "IEC fault", value: text, expected: "ADDR=FAULT, e.g. 00000003=bad-bcc")
        }
        return IECFaultArgument(address: String(text[..<eq]), fault: try IECMeterFault.parse(String(text[text.index(after: eq)...])))
    }
}
