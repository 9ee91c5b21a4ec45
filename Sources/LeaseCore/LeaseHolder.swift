import DiscoCore

// MARK: - LeaseHolder

/// One replica's side of the lease: decides when this replica is hot, renews while it holds the
/// lease, and steps down by itself.
///
/// A pure state machine: feed it ``tick(now:)`` when its timer fires, ``applied(_:now:)`` after
/// every applied change of the group's replicated state, the answers to its renewals
/// (``renewed(token:sentAt:now:)``, ``renewalFailed(token:sentAt:refusal:now:)``),
/// ``healthChanged(_:now:)``, ``leaderChanged(now:)`` and ``stop(now:)``. Each returns the
/// ``Effect``s to perform. `now` is the node's monotonic clock (one that counts while paused or
/// suspended; see ``LeaseSettings``).
///
/// **The rule that keeps it safe.** The holder is hot only until `s + renewDeadline`, where `s`
/// is the local time at which it *sent* the latest renewal that was then applied for its token;
/// a grant alone never makes it hot (it renews at once, and becomes hot when that renewal is
/// applied). Before acting on anything — forwarding a write, answering `/readyz?hot` — the shell
/// asks ``token(at:)`` with the current time: a process that was paused past its deadline is cold
/// the moment it wakes, even before its timer fires.
///
/// **Suspending.** The deadline ends *acting* by itself when renewals stop committing (a Raft
/// election, lost quorum): the holder is then ``Phase/suspended`` and keeps renewing. A renewal
/// is a compare-and-set on the group's record still naming this holder with its token, so when
/// one commits nobody was granted in between, and the holder acts again with the same token
/// until that renewal's send time plus the renew deadline — the same rule as always. Once its
/// clock shows ``LeaseSettings/suspensionLimit`` since the last applied renewal's send (the
/// lease may well have moved by then), or it learns of another holder, it becomes cold.
///
/// **Stepping down.** Becoming cold (hooks, an event) happens after a suspension that lasted
/// too long (lost quorum, a long pause). When its upstream turns unhealthy, when an operator moves the lease
/// elsewhere, or when it stops, the holder becomes cold first and then proposes `release`, so the
/// leader need not wait for the ttl. A process releases only its own claim, or an unclaimed grant
/// (nobody acted with that token; the release names this incarnation, so it is refused once
/// another process has claimed it).
///
/// **Draining a graceful hand-over.** A move or a stop of a holder that held a token (hot or
/// suspended) does not release at once: the holder asks the shell to wait for the writes it
/// already passed on (``Effect/awaitWritesInFlight(token:)``) and keeps renewing its token —
/// without acting, so no grant can reach another replica — until ``writesDrained(token:now:)``,
/// and only then releases. The shell bounds the wait; an unhealthy upstream ends it at once.
///
/// **A predecessor's claim.** A new process of the same node does not inherit a lease claimed by
/// an earlier process: it never renews it, and releases it so that every process acts under its
/// own token — but not at once, because the earlier process may be alive (paused, or cut off
/// from the cluster while a new pod with the same name started elsewhere) and hot until its
/// latest committed renewal's send time plus *its* renew deadline. The new process waits
/// ``predecessorWait`` on its clock from the moment it first applied the state that carries the
/// claim's latest renewal, then proposes the release as a compare-and-set on that state's
/// ``LeaseState/lastChange``: a renewal the earlier process committed meanwhile makes it a no-op,
/// and the wait starts again from the apply of that renewal.
public struct LeaseHolder: Sendable {
    /// Whether this replica may act as the hot one.
    public enum Phase: Hashable, Sendable {
        /// Not hot.
        case cold
        /// Hot with `token` until local time `until` (exclusive).
        case hot(token: UInt64, until: Duration)
        /// The renew deadline passed without a renewal: not acting, but still the holder with
        /// `token` as far as it knows. A renewal sent at `lastSent` (local) was the latest one
        /// applied. A renewal that commits (a compare-and-set on the record still naming this
        /// holder and token) resumes acting with the same token, without a hot/cold change. At
        /// `lastSent +` ``LeaseSettings/suspensionLimit`` the holder becomes cold.
        case suspended(token: UInt64, lastSent: Duration)
    }

    /// Why a hot replica became cold.
    public enum ColdReason: Hashable, Sendable, CustomStringConvertible {
        /// No renewal was applied in time (lost quorum, no leader, paused process).
        case expired
        /// The upstream failed its health checks.
        case unhealthy
        /// The replicated state shows another holder or a newer token.
        case superseded
        /// An operator asked to move the lease to another replica.
        case moved
        /// The process is shutting down.
        case stopping

        public var description: String {
            switch self {
            case .expired: "expired"
            case .unhealthy: "unhealthy"
            case .superseded: "superseded"
            case .moved: "moved"
            case .stopping: "stopping"
            }
        }
    }

    /// What the shell must do after an input.
    public enum Effect: Hashable, Sendable {
        /// Propose `renew`, then answer with ``renewed(token:sentAt:now:)`` when it was applied
        /// as a renewal, or ``renewalFailed(token:sentAt:refusal:now:)``; `sentAt` is the local
        /// time of this input.
        case proposeRenewal(LeaseCommand, sentAt: Duration)
        /// Propose `release` (no answer needed: the outcome shows in the applied state).
        case proposeRelease(LeaseCommand)
        /// This replica is now hot with `token` (run the on-hot hook, write the state file).
        case becomeHot(token: UInt64)
        /// This replica stopped being hot with `token` (run the on-cold hook, write the state file).
        case becomeCold(token: UInt64, reason: ColdReason)
        /// The renew deadline passed: stop acting with `token` at once, but no hook and no
        /// hot/cold event (the holder keeps renewing and may resume).
        case suspend(token: UInt64)
        /// A renewal committed while suspended: act again with the same `token`.
        case resume(token: UInt64)
        /// Arm (or move) the holder's one timer to local time `deadline`; call ``tick(now:)`` then.
        case arm(deadline: Duration)
        /// A graceful hand-over (stop or move) stopped acting with `token`: call
        /// ``writesDrained(token:now:)`` once the writes already passed on with it have answered
        /// (or the shell stopped waiting). Until then the holder renews without acting.
        case awaitWritesInFlight(token: UInt64)
    }

    public let settings: LeaseSettings
    public let group: LeaseGroup
    /// This replica's node.
    public let me: NodeID
    /// This process of the node (a new value at every start, e.g. random).
    public let incarnation: UInt64

    /// Hot or cold, as last decided (``token(at:)`` also accounts for a deadline that passed
    /// before any input arrived).
    public internal(set) var phase: Phase = .cold
    /// The group's replicated state as last applied on this node.
    public internal(set) var lease = LeaseState()
    /// Whether the upstream is healthy.
    public internal(set) var healthy: Bool
    /// Whether ``stop(now:)`` was called.
    public internal(set) var stopped = false
    /// The token of a graceful hand-over waiting for its writes in flight before the release
    /// (``Effect/awaitWritesInFlight(token:)``); nil otherwise.
    public internal(set) var drainingToken: UInt64?
    /// Renewals sent before this local time are ignored (they predate the latest step-down).
    var coldSince: Duration
    /// When the next renewal is due (nil while this replica may not renew).
    var nextRenewal: Duration?
    /// A token this replica released (or is releasing): never renewed again.
    var releasedToken: UInt64?
    /// The claim of an earlier process of this node, being waited out: the state's last change,
    /// the local time from which its release may be proposed, and whether it was.
    var predecessorClaim: (lastChange: UInt64, releaseAt: Duration, proposed: Bool)?

    /// A holder that starts cold at local time `now`.
    public init(settings: LeaseSettings, group: LeaseGroup, me: NodeID, incarnation: UInt64, healthy: Bool = true, now: Duration) {
        self.settings = settings
        self.group = group
        self.me = me
        self.incarnation = incarnation
        self.healthy = healthy
        self.coldSince = now
    }

    // MARK: Queries

    /// The token to act with at local time `now`, or nil when this replica must not act as hot
    /// (cold, suspended, or past its deadline). Ask it right before every action.
    public func token(at now: Duration) -> UInt64? {
        guard case .hot(let token, let until) = phase, now < until else { return nil }
        return token
    }

    /// The token this replica is hot or suspended with (nil when cold): the token its state
    /// file and status report, whether or not it may act at this instant.
    public var heldToken: UInt64? {
        switch phase {
        case .cold: nil
        case .hot(let token, _), .suspended(let token, _): token
        }
    }

    /// The local time at which a suspended holder becomes cold (nil unless suspended).
    public var suspendedUntil: Duration? {
        guard case .suspended(_, let lastSent) = phase else { return nil }
        return lastSent + settings.suspensionLimit
    }

    /// The local time from which this process may propose the release of an earlier process's
    /// claim (nil when the applied state shows no such claim, or once the release was proposed).
    public var predecessorReleaseAt: Duration? {
        guard let claim = predecessorClaim, !claim.proposed else { return nil }
        return claim.releaseAt
    }

    /// How long a new process waits, from the moment it first applied an earlier process's latest
    /// renewal, before it releases that process's claim: the ttl the grantors give a silent
    /// holder (the earlier process's own, as its renewal carried it, when longer). The earlier
    /// process sent that renewal before the apply and is hot until the send plus its renew
    /// deadline `d`, at most `d / (1 − ρ)` of real time; its settings were validated with
    /// `d < ttl × (1 − ρ) / (1 + ρ)`, so that is before `ttl / (1 + ρ)` — which this process's
    /// clock cannot show as less than `ttl`. The earlier process's renew deadline is not in the
    /// replicated state, and a restart is when flags change, so nothing shorter is safe.
    public var predecessorWait: Duration { max(settings.ttl, lease.holderTTL ?? settings.ttl) }

    /// Whether the applied state shows this node holding the lease under another process's claim.
    var claimedByPredecessor: Bool {
        lease.holder == me && lease.token > 0 && lease.claimedBy.map { $0 != incarnation } == true
    }

    /// Whether this replica is the group's holder in the applied state and may keep renewing
    /// (while draining a hand-over too: the renewals keep the lease from being granted elsewhere).
    var mayRenew: Bool {
        guard lease.holder == me, lease.token > 0, releasedToken != lease.token,
              lease.claimedBy == nil || lease.claimedBy == incarnation else { return false }
        if drainingToken == lease.token { return true }
        return !stopped && healthy && (lease.moveTo == nil || lease.moveTo == me)
    }
}
