import DiscoCore

// MARK: - Members gossip has not heard of

/// The members in the replicated records that gossip does not know, and since when: each is
/// served for `grace` from when this node first found it unknown (a member that has just joined,
/// before gossip meets it), then no longer (a member that died while this node was down, so no
/// live member gossips about it any more, or that gossip forgot once its tombstone expired).
/// Without the grace such a member would be served until someone removed it.
struct UnknownMembers: Sendable {
    let grace: Duration
    private var since: [NodeID: ContinuousClock.Instant] = [:]

    init(grace: Duration) { self.grace = grace }

    /// Notes that `unknown` are the members gossip does not know `now` (others are forgotten)
    /// and returns those still within their grace.
    mutating func served(unknown: Set<NodeID>, now: ContinuousClock.Instant) -> Set<NodeID> {
        since = since.filter { unknown.contains($0.key) }
        for id in unknown where since[id] == nil { since[id] = now }
        return Set(since.filter { now - $0.value < grace }.keys)
    }

    /// When the next member still within its grace leaves it (the zone must be rebuilt then).
    func nextExpiry(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        since.values.map { $0 + grace }.filter { $0 > now }.min()
    }
}
