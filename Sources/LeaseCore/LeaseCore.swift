// MARK: - LeaseCore

/// The hot/cold lease as pure values: ``LeaseSettings`` (and their validation), the replicated
/// ``LeaseTable`` with its ``LeaseCommand``s, the per-replica ``LeaseHolder`` and the per-node
/// ``LeaseGrantor``. Nothing here reads a clock, opens a socket or touches a file: time comes in
/// as `now` (the node's `ContinuousClock`, as a `Duration` since any fixed instant).
///
/// How a node drives it (one holder and one grantor per group):
///
/// 1. Replicate ``LeaseCommand``s as entries of the cluster's Raft log and apply them with
///    ``LeaseTable/apply(_:index:)`` at their log index; snapshot the table with the rest of
///    the state. After each applied lease entry (and after restoring a snapshot) call
///    ``LeaseGrantor/applied(_:now:)`` and ``LeaseHolder/applied(_:now:)`` with the group's
///    new ``LeaseState`` — or, after a batch of entries applied at once (a restart replaying
///    its log), with the batch's last state only: both cores act on the latest state, and a
///    replica replaying old grants to itself would otherwise propose releases that are refused.
/// 2. Perform the holder's effects: propose its renewals and releases through the leader,
///    answer each renewal with ``LeaseHolder/renewed(token:sentAt:now:)`` when its entry applied
///    as ``LeaseApplyResult/renewed(_:holder:token:)`` and with
///    ``LeaseHolder/renewalFailed(token:sentAt:refusal:now:)`` otherwise; keep one timer at the
///    last ``LeaseHolder/Effect/arm(deadline:)``; run the on-hot / on-cold hooks and write the
///    state file on ``LeaseHolder/Effect/becomeHot(token:)`` and
///    ``LeaseHolder/Effect/becomeCold(token:reason:)``; on ``LeaseHolder/Effect/suspend(token:)``
///    and ``LeaseHolder/Effect/resume(token:)`` only update the status (no hook, no event).
///    Feed upstream health, leader changes and shutdown in. Before forwarding any write, ask
///    ``LeaseHolder/token(at:)``: no token, no write (also none while suspended).
/// 3. When this node wins an election, tell its grantor with
///    ``LeaseGrantor/leadershipGained(now:previousLeader:)``.
/// 4. While this node grants for the group (the Raft leader, or any replica while the leader
///    runs none: ``LeaseGrantor/grants(isLeader:leader:candidates:)``), call ``LeaseGrantor/decide(now:isLeader:candidates:)``
///    after applies, leadership changes, candidate changes (health, `-no-hot`, priority, reachability)
///    and at its armed deadline, and propose the grants it returns.
public enum LeaseCore {}
