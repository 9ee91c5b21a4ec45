import DiscoDNS

// MARK: - SRVOrdering

/// RFC 2782 server selection order, as a pure function of the records and a random generator.
///
/// - Lower priority values come first, always.
/// - Within a priority, records are drawn one at a time, each with probability proportional to
///   its weight among those still left.
/// - Weight 0 (RFC 2782: "a very small chance of being selected"): while records with positive
///   weights remain, the weight-0 records together are drawn with probability 1/(S+1), where S
///   is the sum of the positive weights left (the share the RFC's inclusive `[0, S]` draw gives
///   them), one of them uniformly. When only weight-0 records are left, they come in uniform
///   random order.
///
/// Unlike the RFC's literal running-sum walk, positive weights get exactly proportional shares
/// (the walk over `[0, S]` gives the first record one extra unit, a known erratum).
public enum SRVOrdering {
    /// Orders `records` for trying, using `random` for the weighted draws.
    public static func order<R: RandomNumberGenerator>(_ records: [SRVData], using random: inout R) -> [SRVData] {
        let byPriority = Dictionary(grouping: records, by: \.priority)
        var ordered: [SRVData] = []
        ordered.reserveCapacity(records.count)
        for priority in byPriority.keys.sorted() {
            guard let group = byPriority[priority] else { continue }
            ordered += orderWithinPriority(group, using: &random)
        }
        return ordered
    }

    /// Weighted random order of records that share one priority.
    static func orderWithinPriority<R: RandomNumberGenerator>(_ group: [SRVData], using random: inout R) -> [SRVData] {
        // A stable start, so the same generator state always gives the same order.
        var positive = group.filter { $0.weight > 0 }.sorted(by: stableOrder)
        var zero = group.filter { $0.weight == 0 }.sorted(by: stableOrder)
        var ordered: [SRVData] = []
        ordered.reserveCapacity(group.count)
        var sum = positive.reduce(0) { $0 + Int($1.weight) }
        while !positive.isEmpty || !zero.isEmpty {
            if positive.isEmpty {
                ordered.append(zero.remove(at: Int.random(in: 0..<zero.count, using: &random)))
                continue
            }
            let draw = Int.random(in: (zero.isEmpty ? 1 : 0)...sum, using: &random)
            if draw == 0 {
                ordered.append(zero.remove(at: Int.random(in: 0..<zero.count, using: &random)))
                continue
            }
            var running = 0
            for index in positive.indices {
                running += Int(positive[index].weight)
                if running >= draw {
                    sum -= Int(positive[index].weight)
                    ordered.append(positive.remove(at: index))
                    break
                }
            }
        }
        return ordered
    }

    private static func stableOrder(_ lhs: SRVData, _ rhs: SRVData) -> Bool {
        if lhs.weight != rhs.weight { return lhs.weight > rhs.weight }
        if lhs.port != rhs.port { return lhs.port < rhs.port }
        return lhs.target.description.utf8.lexicographicallyPrecedes(rhs.target.description.utf8)
    }
}
