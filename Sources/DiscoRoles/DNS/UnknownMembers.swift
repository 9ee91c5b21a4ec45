import DiscoCore

// MARK: - Members gossip has not heard of

/// The members in the replicated records that gossip does not know, and since when: each is
/// served for `grace` from when this node first found it unknown (a member that has just joined,
/// before gossip meets it), then no longer (a member that died while this node was down, so no
/// live member gossips about it any more). Without the grace such a member would be served until
/// someone removed it.
///
/// A member gossip has reported (``heard(_:)``) and then forgets, once its tombstone expired, is
/// known dead: it gets no grace, or a member dead for half an hour would come back into the
/// answers for the grace at the next rebuild.
struct UnknownMembers: Sendable {
    let grace: Duration
    private var since: [NodeID: ContinuousClock.Instant] = [:]
    /// Members gossip has reported since this node started (those still in the records).
    private var heard: Set<NodeID> = []

    init(grace: Duration) { self.grace = grace }

    /// Notes the members gossip reports now, in any state.
    mutating func heard(_ ids: some Sequence<NodeID>) {
        heard.formUnion(ids)
    }

    /// Notes that `unknown` are the members gossip does not know `now` (others are forgotten)
    /// and returns those still within their grace. `records` are the members in the records: a
    /// member that leaves them is forgotten as heard of too (added again, it is new).
    mutating func served(unknown: Set<NodeID>, records: Set<NodeID>? = nil, now: ContinuousClock.Instant) -> Set<NodeID> {
        if let records { heard.formIntersection(records) }
        since = since.filter { unknown.contains($0.key) && !heard.contains($0.key) }
        for id in unknown where since[id] == nil && !heard.contains(id) { since[id] = now }
        return Set(since.filter { now - $0.value < grace }.keys)
    }

    /// When the next member still within its grace leaves it (the zone must be rebuilt then).
    func nextExpiry(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        since.values.map { $0 + grace }.filter { $0 > now }.min()
    }
}
