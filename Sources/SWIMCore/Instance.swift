import DiscoCore

// MARK: - Instance

extension SWIM {
    /// One member's SWIM + Lifeguard protocol state: a pure value type.
    ///
    /// Drive it with ``start(now:)``, ``join(_:now:)``, ``received(_:from:now:)``,
    /// ``timerFired(_:now:)``, ``receivedPushPull(_:from:now:)``,
    /// ``pushPullCompleted(_:from:now:)``, ``updateMetadata(_:now:)`` and ``leave(now:)``;
    /// each returns the ``Effect``s to perform. `now` is the shell's monotonic time.
    public struct Instance: Sendable {
        /// The settings this instance runs with.
        public let settings: Settings
        /// This member's identity.
        public let id: NodeID
        /// Where this member receives SWIM packets.
        public let address: PeerAddress
        /// This member's incarnation number (bumped to refute suspicion and on metadata change).
        public internal(set) var incarnation: UInt64 = 0
        /// This member's current metadata.
        public internal(set) var metadata: Metadata
        /// Whether ``leave(now:)`` was called.
        public internal(set) var isLeaving = false

        var random: DeterministicRandom
        var table: MemberTable
        /// Members alive or suspect, including this one.
        var liveCount: Int
        var probeOrder = ProbeOrder()
        var probeOrderGeneration = -1
        var activeProbe: ActiveProbe?
        var nextSequence: Sequence = 0
        var relays: [Sequence: Relay] = [:]
        var suspicions: [NodeID: Suspicion] = [:]
        var broadcasts = BroadcastQueue()
        var health: LocalHealth
        var gossipArmed = false
        var seeds: [PeerAddress] = []
        var seedIDs: [PeerAddress: NodeID] = [:]
        /// Dead and left members with the time they became so.
        var tombstones: [NodeID: Duration] = [:]
        var started = false
        var leaveCompleted = false
        /// Probes that still carry this member's own "alive" first: after joining, the first
        /// pass over the members announces the joiner to each of them directly, so a join
        /// reaches everyone within one pass even where gossip missed someone.
        var announcingProbes = 0
        /// Refutations of claims for this member's ID at other addresses (duplicate IDs).
        var conflicts = ConflictTracker()
        var effects: [Effect] = []

        /// The probe this member is running in the current protocol period.
        struct ActiveProbe: Sendable {
            var sequence: Sequence
            var target: NodeID
            var address: PeerAddress
            var indirectSent = false
            var expectedNacks = 0
            var nacks = 0
        }

        /// A ping sent on another member's behalf.
        struct Relay: Sendable {
            var originSequence: Sequence
            var origin: PeerAddress
            var originID: NodeID
        }

        /// Creates a member that knows only itself.
        public init(id: NodeID, address: PeerAddress, metadata: Metadata = Metadata(),
                    settings: Settings = Settings(), random: DeterministicRandom) throws(ConfigurationError) {
            try self.init(id: id, address: address, metadata: metadata, settings: settings, random: random,
                          snapshot: Snapshot([], at: .zero))
        }

        /// Creates a member that starts from a known membership (a restored or shared state).
        /// Instances created from the same snapshot share its storage until they change it.
        public init(id: NodeID, address: PeerAddress, metadata: Metadata = Metadata(), settings: Settings = Settings(),
                    random: DeterministicRandom, snapshot: Snapshot) throws(ConfigurationError) {
            try settings.validate()
            try Self.validate(metadata, address: address, id: id, settings: settings)
            self.settings = settings
            self.id = id
            self.address = address
            self.metadata = metadata
            self.random = random
            self.health = LocalHealth(max: settings.maxLocalHealthMultiplier)
            self.table = snapshot.table
            self.liveCount = snapshot.liveCount
            self.tombstones = snapshot.tombstones
            let mine = table[id]
            incarnation = mine?.incarnation ?? 0
            if let mine, mine.status == .alive, mine.address == address, mine.metadata == metadata { return }
            if mine != nil { incarnation = Self.next(after: incarnation) }
            storeSelf(now: snapshot.time)
        }

        // MARK: Queries

        /// Every member known, this one included, dead and left ones until reaped.
        public var members: [Member] { table.all }

        /// The member with `id`, if known.
        public func member(_ id: NodeID) -> Member? { table[id] }

        /// Members alive or suspect, this one included.
        public var liveMemberCount: Int { liveCount }

        /// Lifeguard local health multiplier score, 0...maxLocalHealthMultiplier.
        public var localHealthMultiplier: Int { health.score }

        /// The current protocol period (probe interval scaled by LHM + 1).
        public var currentProbeInterval: Duration { settings.probeInterval * health.multiplier }

        /// The current direct-probe timeout (scaled by LHM + 1).
        public var currentProbeTimeout: Duration { settings.probeTimeout * health.multiplier }

        /// When the running suspicion about `id` will declare it dead, if there is one.
        public func suspicionDeadline(of id: NodeID) -> Duration? { suspicions[id]?.deadline }

        /// Independent confirmations of the running suspicion about `id`.
        public func suspicionConfirmations(of id: NodeID) -> Int? { suspicions[id]?.confirmations }

        /// How often each gossip item is sent at the current cluster size: λ·ceil(log10(n+1)).
        public var retransmitLimit: Int { settings.retransmitMultiplier * Self.ceilLog10(liveCount + 1) }

        /// Number of gossip items waiting to be sent.
        public var pendingGossipCount: Int { broadcasts.count }

        /// The incarnation after `incarnation`, saturating at the highest one: a datagram or
        /// push-pull state claiming `UInt64.max` about this member (any sender can, unless gossip
        /// is sealed) must not overflow and crash it.
        static func next(after incarnation: UInt64) -> UInt64 {
            incarnation == .max ? .max : incarnation + 1
        }

        static func ceilLog10(_ value: Int) -> Int {
            var digits = 0
            var power = 1
            while power < value {
                power = power &* 10
                digits += 1
            }
            return max(1, digits)
        }

        // MARK: Effect plumbing

        mutating func drain() -> [Effect] {
            defer { effects = [] }
            return effects
        }

        /// Ends an input: schedules gossip if some became sendable, returns the effects.
        mutating func finish(now: Duration) -> [Effect] {
            scheduleGossip(now: now)
            return drain()
        }

        mutating func arm(_ timer: Timer, at deadline: Duration) {
            effects.append(.arm(timer, deadline: deadline))
        }

        mutating func emit(_ event: MemberEvent) {
            effects.append(.event(event))
        }

        /// Writes this member's own record into the table.
        mutating func storeSelf(now: Duration) {
            let status: MemberStatus = isLeaving ? .left : .alive
            let previous = table[id]
            let record = Member(id: id, address: address, incarnation: incarnation, status: status, metadata: metadata,
                                statusChangedAt: previous?.status == status ? (previous?.statusChangedAt ?? now) : now)
            store(record, previous: previous?.status, now: now)
        }

        /// Writes `member`, keeping the live count, tombstones and probe order in step.
        mutating func store(_ member: Member, previous: MemberStatus?, now: Duration) {
            let wasLive = previous?.isLive ?? false
            if wasLive != member.status.isLive { liveCount += member.status.isLive ? 1 : -1 }
            if member.status.isLive {
                tombstones[member.id] = nil
            } else if previous != member.status {
                tombstones[member.id] = now
            }
            if previous == nil {
                // Still announcing ourselves after a join: the newly learned member is owed one too.
                if announcingProbes > 0 { announcingProbes += 1 }
                let slot = table.insert(member)
                if probeOrderGeneration == table.layoutGeneration { probeOrder.insert(slot: slot, random: &random) }
            } else {
                table.update(member)
            }
        }
    }
}
