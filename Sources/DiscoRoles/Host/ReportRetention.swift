import DiscoCore
import NodeRuntime

// MARK: - Which report entries can go

/// Decides which entries of ``ReportedMember/namespace`` a host node deletes, so that members
/// that left (with node IDs that change on every start, a new one each time) do not fill the
/// key-value state.
///
/// An entry can go when its member is not in the member records read after the entry, and the
/// entry says it left (`"left":true`) or holds no report (``ReportedMember/pending``, or a value
/// that does not decode), and this node has seen it so, at the same revision, for
/// ``retention``. Why that is safe:
///
/// - **Keys do not repeat.** A report made without a report entry first creates a
///   ``ReportedMember/pending`` entry and is keyed by its revision, a Raft index never used
///   before; so a member that comes back after its entry was deleted reports its join under a
///   new idempotency key, which the idempotency window cannot have seen.
/// - **Late views do not re-report.** ``MemberReport/decide(current:asOf:reported:)`` refuses a
///   view older than the entry's `raft_index`; once the entry is gone that guard is gone, so a
///   host node with no report to compare with decides against member records read after the
///   entry, which are at least as new as the deletion, hence as the leave.
/// - **A concurrent report wins.** The deletion is a compare-and-set on the revision read: a
///   report recorded meanwhile (the member came back) makes it fail. A report appended before the
///   deletion and recorded after it finds the entry gone and records its event then.
///   ``retention`` (an hour by default, the idempotency window's age) keeps the deletion away
///   from a member's leave and quick return (a restart), the one time such races are likely.
struct ReportRetention: Sendable {
    /// How long an entry stays deletable, by this node's clock, before it is deleted.
    var retention: Duration
    /// The deletable entries seen, with the revision they had and when they were first seen so.
    private var unchanged = UnchangedSince<KVKey>()
    /// The instant times are measured from (the first look's).
    private var origin: ContinuousClock.Instant?

    init(retention: Duration) {
        self.retention = retention
    }

    /// How many entries are deletable but kept until ``retention`` has passed.
    var waiting: Int { unchanged.count }

    /// The entries to delete now, given the namespace's `entries` and the IDs of the `members`
    /// read after them, at `now`. Remembers the deletable ones it does not return yet.
    mutating func due(entries: [KVEntry], members: Set<NodeID>, now: ContinuousClock.Instant) -> [KVEntry] {
        let origin = self.origin ?? now
        self.origin = origin
        let deletable = entries.filter { Self.deletable($0, members: members) }
        return unchanged.look(deletable, now: origin.duration(to: now), period: retention, key: \.key, revision: \.revision)
    }

    /// Whether `entry` is about a member that is gone and whose leave, if it was reported at
    /// all, is recorded.
    static func deletable(_ entry: KVEntry, members: Set<NodeID>) -> Bool {
        guard entry.key.namespace == ReportedMember.namespace, let id = NodeID(entry.key.name), !members.contains(id) else { return false }
        guard let reported = ReportedMember(decoding: entry.value) else { return true }
        return reported.left
    }
}
