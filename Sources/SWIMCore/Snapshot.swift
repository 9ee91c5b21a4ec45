import DiscoCore

// MARK: - Snapshot

extension SWIM {
    /// A membership state to start instances from (restored from disk, or one state shared by
    /// many simulated members: their tables share storage until they diverge).
    public struct Snapshot: Sendable {
        var table: MemberTable
        var liveCount: Int
        var tombstones: [NodeID: Duration]
        var time: Duration

        /// A snapshot of `members`, as known at local time `now`.
        public init(_ members: [MemberState], at now: Duration) {
            var records: [Member] = []
            records.reserveCapacity(members.count)
            var live = 0
            var tombstones: [NodeID: Duration] = [:]
            for state in members {
                records.append(Member(id: state.id, address: state.address, incarnation: state.incarnation,
                                      status: state.status, metadata: state.metadata, statusChangedAt: now))
                if state.status.isLive { live += 1 } else { tombstones[state.id] = now }
            }
            table = MemberTable(records)
            liveCount = live
            self.tombstones = tombstones
            time = now
        }
    }
}
