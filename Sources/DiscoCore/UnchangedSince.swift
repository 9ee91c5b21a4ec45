// MARK: - UnchangedSince

/// Per key, the revision a value was seen at and since when it has been seen at that revision,
/// so that the caller acts on a value only once it has stayed unchanged for a period: a leader
/// deleting consumer cursors nobody acknowledges, a host node deleting the reports of members
/// that left.
///
/// Each ``look(_:now:period:key:revision:)`` names the values that qualify now (the caller
/// decides what qualifies) with their revisions. One seen at the same revision last time keeps
/// its start; one not seen before, or seen at another revision, starts now; one that no longer
/// qualifies, or is gone, is forgotten, so it starts afresh should it qualify again.
/// ``forget()`` starts everything afresh (a new term, a new leader).
///
/// Pure: no clock is read; the caller passes the time as a duration since any fixed origin
/// (the same origin on every call).
public struct UnchangedSince<Key: Hashable & Sendable>: Sendable, Equatable {
    /// When a value was first seen at its current revision.
    public struct Sighting: Sendable, Hashable {
        /// The value's revision then (another revision starts the period again).
        public var revision: UInt64
        /// The time it was first seen at that revision.
        public var since: Duration

        public init(revision: UInt64, since: Duration) {
            self.revision = revision
            self.since = since
        }
    }

    /// The values waiting out the period, each with its sighting.
    public private(set) var sightings: [Key: Sighting]

    /// A tracker that remembers `sightings` (none by default).
    public init(_ sightings: [Key: Sighting] = [:]) {
        self.sightings = sightings
    }

    // MARK: Looking

    /// One look at time `now` at the `candidates` that qualify now: returns, in their order,
    /// those seen at the same revision since at least `period` ago (and forgets them); remembers
    /// the others, and forgets every key not among the candidates.
    public mutating func look<Element>(_ candidates: some Sequence<Element>, now: Duration, period: Duration,
                                       key: (Element) -> Key, revision: (Element) -> UInt64) -> [Element] {
        var next: [Key: Sighting] = [:]
        var due: [Element] = []
        for candidate in candidates {
            let name = key(candidate)
            let current = revision(candidate)
            let seen = sightings[name].flatMap { $0.revision == current ? $0 : nil } ?? Sighting(revision: current, since: now)
            if now - seen.since >= period {
                due.append(candidate)
            } else {
                next[name] = seen
            }
        }
        sightings = next
        return due
    }

    /// Forgets every sighting: each value waits a full period from its next look.
    public mutating func forget() {
        sightings = [:]
    }

    // MARK: Inspecting

    /// How many values wait out the period.
    public var count: Int { sightings.count }

    /// The sighting of `key`, if it waits.
    public subscript(key: Key) -> Sighting? { sightings[key] }
}
