/// Which addresses an installer picked from a list: `all`, `none`, or numbers and ranges such as
/// `1-40,45, 50-52`. Pure.
public enum AddressSelection {
    /// The chosen addresses (sorted), or why the text is not a selection of `offered` addresses.
    public static func parse(_ text: String, offered: [Int]) -> Result<[Int], InputProblem> {
        let lower = text.trimmingSpaces.lowercased()
        if lower == "all" { return .success(offered.sorted()) }
        if lower == "none" { return .success([]) }
        var chosen = Set<Int>()
        for part in lower.split(separator: ",").map({ String($0).trimmingSpaces }) where !part.isEmpty {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int(String($0).trimmingSpaces) }
            guard (1...2).contains(bounds.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil, low <= high else {
                return .failure(InputProblem("\"\(TextLayout.cut(part, to: 20))\" is not an address or a range like 1-40"))
            }
            let outside = (low...high).filter { !offered.contains($0) }
            if !outside.isEmpty {
                return .failure(InputProblem("address \(outside[0]) is not among the ones offered"
                    + (outside.count > 1 ? " (nor \(outside.count - 1) more)" : "")))
            }
            chosen.formUnion(low...high)
        }
        guard !chosen.isEmpty else { return .failure(InputProblem("type all, none, or addresses such as 1-40,45")) }
        return .success(chosen.sorted())
    }

    /// An inclusive range `a-b` within `limits` (for scan ranges).
    public static func range(_ text: String, within limits: ClosedRange<Int>) -> Result<ClosedRange<Int>, InputProblem> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Int(String($0).trimmingSpaces) }
        guard (1...2).contains(parts.count), let low = parts.first ?? nil, let high = parts.last ?? nil else {
            return .failure(InputProblem("type a range such as \(limits.lowerBound)-\(limits.upperBound), or one address"))
        }
        guard limits.contains(low), limits.contains(high), low <= high else {
            return .failure(InputProblem("\(low)-\(high) is not within \(limits.lowerBound)-\(limits.upperBound) (first <= last)"))
        }
        return .success(low...high)
    }
}
