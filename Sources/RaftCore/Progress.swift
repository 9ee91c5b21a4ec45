// MARK: - Progress

/// The leader's view of one follower's replication (flow control as in etcd's design: probe one
/// append at a time until the match point is found, then pipeline up to a bound).
struct Progress: Sendable {
    enum State: Sendable { case probe, replicate, snapshot }

    var match: UInt64 = 0
    var next: UInt64
    var state: State = .probe
    /// Probe: an append is outstanding; wait for its answer or the next heartbeat answer.
    var probeSent = false
    /// Snapshot: the index of the snapshot being sent, and ticks since it was sent.
    var pendingSnapshot: UInt64 = 0
    var snapshotTicks = 0
    /// Replicate: the last index of each append in flight, oldest first.
    var inflight: [UInt64] = []
    /// Heard from in the current check-quorum period.
    var recentActive = false

    init(next: UInt64) { self.next = next }

    func isPaused(maxInflight: Int) -> Bool {
        switch state {
        case .probe: probeSent
        case .replicate: inflight.count >= maxInflight
        case .snapshot: true
        }
    }

    mutating func becomeProbe() {
        if state == .snapshot {
            next = max(match + 1, pendingSnapshot + 1)
        } else {
            next = match + 1
        }
        state = .probe
        probeSent = false
        pendingSnapshot = 0
        inflight = []
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match + 1
        probeSent = false
        inflight = []
    }

    mutating func becomeSnapshot(index: UInt64) {
        state = .snapshot
        pendingSnapshot = index
        snapshotTicks = 0
        inflight = []
    }

    /// Records an acknowledgement of `index`; returns whether the match point moved.
    mutating func acknowledge(_ index: UInt64) -> Bool {
        probeSent = false
        inflight.removeAll { $0 <= index }
        guard index > match else {
            next = max(next, index + 1)
            return false
        }
        match = index
        next = max(next, index + 1)
        return true
    }

    /// Handles a rejection of `rejected` with a hinted next index; false when the rejection is stale.
    mutating func reject(_ rejected: UInt64, hintNext: UInt64) -> Bool {
        if state == .replicate {
            guard rejected > match else { return false }
            becomeProbe()
            next = max(min(rejected, hintNext), match + 1)
            return true
        }
        guard rejected == next - 1 else { return false }
        next = max(min(rejected, hintNext), match + 1, 1)
        probeSent = false
        return true
    }
}
