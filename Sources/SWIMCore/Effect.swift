import DiscoCore

// MARK: - Effects

extension SWIM {
    /// A timer the shell arms on the core's behalf. Arming a timer that is already armed moves
    /// its deadline; when it fires, the shell calls ``Instance/timerFired(_:now:)`` with it.
    public enum Timer: Sendable, Hashable {
        /// Start of the next protocol period (end of the current probe).
        case protocolPeriod
        /// The direct ping of probe `sequence` went unanswered: ask helpers.
        case directProbeTimeout(sequence: Sequence)
        /// As a helper, the ping `sequence` sent on someone's behalf went unanswered: nack.
        case relayTimeout(sequence: Sequence)
        /// The suspicion about a member may have run out.
        case suspicion(NodeID)
        /// Push pending gossip to a few random members.
        case gossip
        /// Full-state sync with a random member.
        case pushPull
        /// Re-contact seeds and dead members.
        case reconnect
        /// Forget old tombstones.
        case reap
        /// Stop waiting for the "left" message to spread.
        case leave
    }

    /// What the shell must do after an input.
    public enum Effect: Sendable, Hashable {
        /// Encode `packet` and send it as one UDP datagram to `address`.
        case send(Packet, to: PeerAddress)
        /// Arm (or move) `timer` to fire at local time `deadline`.
        case arm(Timer, deadline: Duration)
        /// Tell the application about a membership change.
        case event(MemberEvent)
        /// Open a push-pull exchange with `address`: send `state`, then feed the answer to
        /// ``Instance/pushPullCompleted(_:from:now:)`` (or report a failure).
        case startPushPull(to: PeerAddress, state: PushPullState)
        /// The "left" message had its chance to spread; the shell may shut down.
        case leaveCompleted
        /// Another live process uses this member's node ID (see ``NodeIDConflict``): an
        /// operator must stop one of them. Membership keeps working, but flaps between them.
        case nodeIDConflict(NodeIDConflict)
    }
}
