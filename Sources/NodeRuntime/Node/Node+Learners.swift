import DiscoCore
import Synchronization

// MARK: - LearnerWatch

/// What the leader has seen of one learner: promotion, reporting and reaping go by it.
struct LearnerWatch: Sendable, Hashable {
    /// When this leader started watching it (it joined, or this node became leader).
    var since: ContinuousClock.Instant
    /// The last time the engine reported it answering (nil: not since ``since``).
    var lastContact: ContinuousClock.Instant?
    /// Since when it has not been caught up (nil while it is).
    var behindSince: ContinuousClock.Instant?
    /// The highest log index it is known to hold.
    var matchIndex: UInt64
    var caughtUp: Bool

    /// How long it has been behind, as of `now` (nil while caught up).
    func behind(at now: ContinuousClock.Instant) -> Duration? { behindSince.map { now - $0 } }

    /// How long it has not answered, as of `now`.
    func silence(at now: ContinuousClock.Instant) -> Duration { now - (lastContact ?? since) }
}

// MARK: - Promotion, reporting and reaping

extension Node {
    /// On the leader, once per reconciliation round: records each learner's progress, promotes a
    /// learner that asked to vote once the engine reports it caught up (the engine refuses one
    /// that is not), and removes a learner that has not answered for `-reap-learner-timeout`.
    /// At most one membership change per round.
    func reconcileLearners() async throws {
        let raft = consensus.status
        let now = ContinuousClock.now
        let watches = runtime.withLock { state -> [NodeID: LearnerWatch] in
            var next: [NodeID: LearnerWatch] = [:]
            for learner in raft.learners {
                let peer = raft.peers[learner]
                var watch = state.learners[learner]
                    ?? LearnerWatch(since: now, lastContact: nil, behindSince: nil, matchIndex: 0, caughtUp: false)
                watch.matchIndex = peer?.matchIndex ?? 0
                watch.caughtUp = peer?.caughtUp ?? false
                if peer?.recentlyActive == true { watch.lastContact = now }
                watch.behindSince = watch.caughtUp ? nil : (watch.behindSince ?? now)
                next[learner] = watch
            }
            state.learners = next
            return next
        }
        for (learner, watch) in watches.sorted(by: { $0.key < $1.key }) {
            if watch.caughtUp, store.member(learner)?.voter == true {
                do {
                    try await consensus.promote(learner)
                } catch let error as ConsensusError where error.code == .learnerBehind {
                    continue
                }
                metrics.learnersPromoted.add(1, ordering: .relaxed)
                logger.info("promoted node \(learner) to voter: it holds the log up to index \(watch.matchIndex)")
                return
            }
            let timeout = configuration.cluster.reapLearnerTimeout
            if timeout > .zero, watch.silence(at: now) > timeout {
                try await reap(learner, silentFor: watch.silence(at: now))
                return
            }
        }
    }

    /// Removes a learner that has not answered for longer than `-reap-learner-timeout`.
    private func reap(_ learner: NodeID, silentFor silence: Duration) async throws {
        try await consensus.removeMember(learner)
        if store.member(learner) != nil {
            _ = try await consensus.propose(try ClusterCommand.removeMember(learner).encode())
        }
        // The address stays in the book, so the "removed" notice can still reach the node.
        runtime.withLock { _ = $0.learners.removeValue(forKey: learner) }
        metrics.learnersReaped.add(1, ordering: .relaxed)
        logger.warning("reaped learner \(learner): no answer for \(GoDuration.format(silence)) "
            + "(-reap-learner-timeout \(GoDuration.format(configuration.cluster.reapLearnerTimeout))); it can join again")
    }

    /// Drops the learner bookkeeping of a node that does not lead.
    func forgetLearners() {
        runtime.withLock { state in
            if !state.learners.isEmpty { state.learners = [:] }
        }
    }

    /// The learners this leader watches (empty on followers).
    var learnerWatches: [NodeID: LearnerWatch] { runtime.withLock { $0.learners } }
}
