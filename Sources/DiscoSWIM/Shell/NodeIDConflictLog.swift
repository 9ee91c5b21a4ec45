import DiscoCore

// MARK: - Rate-limited node ID conflict logging

/// Lets one node ID conflict report per other address through per interval, so a duplicate
/// that flaps many times a second logs once a minute; counts the reports held back.
struct NodeIDConflictLog: Sendable {
    /// Shortest time between two log lines about the same other address.
    static let interval: Duration = .seconds(60)
    /// Most addresses remembered; older ones are forgotten first.
    static let maxAddresses = 64

    private var entries: [PeerAddress: (lastLogged: Duration, suppressed: Int)] = [:]

    /// Whether to log a conflict with `other` now; when true, `suppressed` tells how many
    /// reports about it were held back since the last line.
    mutating func shouldLog(_ other: PeerAddress, at now: Duration) -> (log: Bool, suppressed: Int) {
        if let entry = entries[other], now - entry.lastLogged < Self.interval {
            entries[other]?.suppressed += 1
            return (false, 0)
        }
        let suppressed = entries[other]?.suppressed ?? 0
        entries[other] = (now, 0)
        if entries.count > Self.maxAddresses {
            entries = entries.filter { now - $0.value.lastLogged < Self.interval }
        }
        return (true, suppressed)
    }
}
