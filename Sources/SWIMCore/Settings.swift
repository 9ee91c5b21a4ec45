// MARK: - Settings

extension SWIM {
    /// Tunables of the protocol. Defaults target a LAN: a crashed member is declared dead by
    /// everyone in about 1.5–2.5 s, while a member that stalls for 300 ms is never declared dead.
    ///
    /// Why these numbers: with a 200 ms protocol period a crashed member is first probed after
    /// ≈ 1.58 periods on average (SWIM), the failed probe ends at the period boundary, and the
    /// Lifeguard suspicion timeout shrinks to its minimum α·max(1, log10 n)·period = 0.8 s
    /// (n ≤ 10) once three other members confirm. A stalled member that resumes learns of its
    /// suspicion from the buddy packet and refutes in well under the 0.8 s minimum.
    public struct Settings: Sendable, Hashable {
        /// Length of one protocol period (one probe), before Lifeguard scaling by LHM+1.
        public var probeInterval: Duration = .milliseconds(200)
        /// How long to wait for a direct ack before asking helpers (scaled by LHM+1). Helpers
        /// use it unscaled for their own ping before answering with a nack.
        public var probeTimeout: Duration = .milliseconds(80)
        /// Number of helpers asked to ping the target indirectly (k).
        public var indirectProbeCount: Int = 3
        /// α: minimum suspicion timeout = α · max(1, log10 n) · probeInterval.
        public var suspicionMultiplier: Double = 4
        /// β: maximum suspicion timeout = β · minimum; used while nobody confirms the suspicion.
        public var suspicionMaxTimeoutMultiplier: Double = 3
        /// Independent confirmations after which the suspicion timeout reaches its minimum
        /// (capped at n − 2, the members that could confirm).
        public var expectedConfirmations: Int = 3
        /// Upper bound of the local health multiplier (LHM ranges over 0...this).
        public var maxLocalHealthMultiplier: Int = 8
        /// λ: each gossip item is sent λ · ceil(log10(n + 1)) times.
        public var retransmitMultiplier: Int = 4
        /// How often pending gossip is pushed to `gossipFanout` random members (only while
        /// something is pending; probes and acks carry gossip too).
        public var gossipInterval: Duration = .milliseconds(100)
        /// Members each gossip round is sent to.
        public var gossipFanout: Int = 3
        /// Maximum encoded size of one UDP packet.
        public var maxPacketSize: Int = 1400
        /// Interval of full-state push-pull with a random member (scaled up above 32 members).
        public var pushPullInterval: Duration = .seconds(30)
        /// Interval of re-contacting seeds that are not members and members we believe dead,
        /// so that a healed partition merges again.
        public var reconnectInterval: Duration = .seconds(10)
        /// Reconnect interval while this member knows no other live member (joining, isolated).
        public var lonelyReconnectInterval: Duration = .seconds(1)
        /// How long dead and left members are remembered before they are forgotten.
        public var tombstoneTimeout: Duration = .seconds(30 * 60)
        /// How often tombstones are checked for reaping.
        public var reapInterval: Duration = .seconds(15)
        /// Upper bound on the wait for a "left" message to spread after `leave`.
        public var leaveTimeout: Duration = .seconds(2)
        /// Refutations of "alive" claims for this member's ID at one other address, each with an
        /// incarnation above ours, that report a node ID conflict when they happen within
        /// `nodeIDConflictWindow`. A live duplicate outbids every refutation, usually within a
        /// few protocol periods (push-pull carries it otherwise); the stale claims of a member
        /// restarted elsewhere are outbid once and then stay below (never twice within the
        /// window in the seeded restart sweeps).
        public var nodeIDConflictRefutations: Int = 3
        /// The window for `nodeIDConflictRefutations`.
        public var nodeIDConflictWindow: Duration = .seconds(120)

        public init() {}

        /// Settings for small, fast test clusters: shorter push-pull, reconnect and reaping.
        public static var testing: Settings {
            var settings = Settings()
            settings.pushPullInterval = .seconds(5)
            settings.reconnectInterval = .seconds(2)
            settings.tombstoneTimeout = .seconds(60)
            settings.reapInterval = .seconds(5)
            return settings
        }
    }
}
