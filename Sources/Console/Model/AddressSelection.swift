/// Address lists as installers type them: numbers and ranges separated by commas, such as
/// `10-29,100-121,200-221` or `1-40, 45`; `all` and `none` where a list of offered addresses is
/// being chosen from. Every address prompt of the console reads them here. Pure.
public enum AddressSelection {
    /// The chosen addresses (sorted), or why the text is not a selection of `offered` addresses.
    public static func parse(_ text: String, offered: [Int]) -> Result<[Int], InputProblem> {
        let lower = text.trimmingSpaces.lowercased()
        if lower == "all" { return .success(offered.sorted()) }
        if lower == "none" { return .success([]) }
        let chosen: [Int]
        switch numbers(lower) {
        case .success(let n): chosen = n
        case .failure(let problem): return .failure(problem)
        }
        let outside = chosen.filter { !offered.contains($0) }
        if !outside.isEmpty {
            return .failure(InputProblem("address \(outside[0]) is not among the ones offered"
                + (outside.count > 1 ? " (nor \(outside.count - 1) more)" : "")))
        }
        guard !chosen.isEmpty else { return .failure(InputProblem("type all, none, or addresses such as 1-40,45")) }
        return .success(chosen)
    }

    /// A list of addresses within `limits`, such as `10-29,100-121,200-221` or one address (sorted,
    /// each once).
    public static func list(_ text: String, within limits: ClosedRange<Int>) -> Result<[Int], InputProblem> {
        let chosen: [Int]
        switch numbers(text.trimmingSpaces) {
        case .success(let n): chosen = n
        case .failure(let problem): return .failure(problem)
        }
        guard !chosen.isEmpty else {
            return .failure(InputProblem("type addresses such as \(limits.lowerBound)-\(limits.upperBound) or 10-29,100-121"))
        }
        if let outside = chosen.first(where: { !limits.contains($0) }) {
            return .failure(InputProblem("address \(outside) is not within \(limits.lowerBound)-\(limits.upperBound)"))
        }
        return .success(chosen)
    }

    /// `10-29,100-121` for a sorted list: consecutive addresses folded into ranges.
    public static func text(_ addresses: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        let sorted = Array(Set(addresses)).sorted()
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count, sorted[end + 1] == sorted[end] + 1 { end += 1 }
            parts.append(end == index ? String(sorted[index]) : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }

    /// Every number of a comma-separated list of numbers and `low-high` ranges, sorted, each once.
    private static func numbers(_ text: String) -> Result<[Int], InputProblem> {
        var chosen = Set<Int>()
        for part in text.split(separator: ",").map({ String($0).trimmingSpaces }) where !part.isEmpty {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int(String($0).trimmingSpaces) }
            guard (1...2).contains(bounds.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil else {
                return .failure(InputProblem("\"\(TextLayout.cut(part, to: 20))\" is not an address or a range like 1-40"))
            }
            guard low <= high else { return .failure(InputProblem("\(low)-\(high): the first address must not be above the last")) }
            guard high - low < 1000 else { return .failure(InputProblem("\(low)-\(high) is not an address range")) }
            chosen.formUnion(low...high)
        }
        return .success(chosen.sorted())
    }
}
