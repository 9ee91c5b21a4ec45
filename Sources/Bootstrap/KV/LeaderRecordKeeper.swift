import DiscoCore

// MARK: - LeaderRecordKeeper

/// Keeps the KV leader record naming this node while it is the Raft leader.
///
/// The node reports every leadership change with ``leadershipChanged(isLeader:)``. While leader,
/// the keeper claims the record (creates it when absent; replaces another node's record, or one
/// this node wrote under an earlier session, by compare-and-set, re-reading when the CAS loses),
/// then every ``Settings/renewInterval`` renews its session or lease and re-reads the record, so
/// a record that was deleted or overwritten is restored. When the node stops leading, renewing
/// stops: the record expires with its TTL unless the new leader's keeper rewrites it first,
/// which it does as soon as it learns it leads. ``shutdown()`` releases the record.
///
/// A record naming a node that is not a member of this node's cluster (``isMember``) is not
/// replaced: another cluster uses the same key, and two leaders taking the record from each
/// other would send new nodes to either cluster by turns. The keeper reports it (naming the
/// node and `-disco-key`) and takes the record once it is gone or names a member.
///
/// Failures never escape: each is logged with the store's name and the error, shown in
/// ``state``, and retried with jittered backoff.
public actor LeaderRecordKeeper {
    /// Timing of the keeper.
    public struct Settings: Sendable, Hashable {
        /// The store's TTL for the session or lease.
        public var ttl: Duration
        /// How often the session or lease is renewed and the record re-read (default `ttl / 3`).
        public var renewInterval: Duration
        /// Backoff after failures, from `initialBackoff` up to `maxBackoff` (default `renewInterval`).
        public var retry: KVRetryPolicy
        /// How many lost compare-and-sets in a row one claim tolerates before it counts as a failure.
        public var maxCompareAndSetRounds: Int

        public init(ttl: Duration, renewInterval: Duration? = nil, initialBackoff: Duration = .milliseconds(100),
                    maxBackoff: Duration? = nil, maxCompareAndSetRounds: Int = 5) {
            self.ttl = ttl
            let renew = max(renewInterval ?? ttl / 3, .milliseconds(1))
            self.renewInterval = renew
            self.retry = KVRetryPolicy(initialBackoff: initialBackoff, maxBackoff: maxBackoff ?? renew,
                                       deadline: nil, maxAttempts: nil)
            self.maxCompareAndSetRounds = max(1, maxCompareAndSetRounds)
        }
    }

    /// What the keeper is doing, for `/status`.
    public struct State: Sendable, Hashable {
        /// Whether the node told the keeper it leads.
        public var isLeader = false
        /// Whether the record named this node under this keeper's session at the last check.
        public var holding = false
        /// The record as last confirmed held.
        public var record: VersionedLeaderRecord?
        /// The most recent failure; cleared by the next success.
        public var lastError: String?
        /// When the record was last confirmed held, as time since the keeper was created.
        public var lastSuccess: Duration?
        /// How many renewals of the session or lease failed.
        public var renewFailures = 0
        /// How many times the keeper wrote the record (created or replaced it).
        public var writes = 0
    }

    public nonisolated let registry: any LeaderRegistry
    /// The record this node publishes.
    public nonisolated let me: LeaderRecord
    public nonisolated let settings: Settings
    /// Whether a node ID is a member of this node's cluster.
    let isMember: @Sendable (String) -> Bool
    let logger: Logger
    private let startedAt = ContinuousClock.now
    private var random: DeterministicRandom
    private var current = State()
    /// Bumped on every leadership change and at shutdown; a loop whose generation is stale stops.
    private var generation: UInt64 = 0
    private var loop: Task<Void, Never>?
    private var isShutDown = false

    /// - Parameter isMember: whether a node ID belongs to this node's cluster; a record naming a
    ///   node that does not is left alone. By default every node counts as a member.
    public init(registry: any LeaderRegistry, me: LeaderRecord, settings: Settings, logger: Logger, seed: UInt64 = 0,
                isMember: @escaping @Sendable (String) -> Bool = { _ in true }) {
        self.registry = registry
        self.me = me
        self.settings = settings
        self.isMember = isMember
        self.logger = logger
        self.random = DeterministicRandom(seed: seed)
    }

    /// The keeper's state right now.
    public var state: State { current }

    // MARK: Leadership

    /// Tells the keeper whether this node is now the Raft leader. Repeated values are ignored.
    public func leadershipChanged(isLeader: Bool) {
        guard !isShutDown, isLeader != current.isLeader else { return }
        generation += 1
        current.isLeader = isLeader
        loop?.cancel()
        if isLeader {
            logger.info("leader now: claiming the leader record in \(registry.name)")
            let previous = loop
            let mine = generation
            loop = Task {
                await previous?.value
                await self.keepWhileLeader(generation: mine)
            }
        } else {
            current.holding = false
            if current.record != nil {
                logger.info("no longer leader: stopped renewing the leader record in \(registry.name); "
                            + "it expires with its TTL unless the new leader rewrites it")
            }
        }
    }

    /// Stops the keeper for good and releases the record (and the session or lease) if this
    /// node holds it. Failures are logged; the record then expires with its TTL.
    public func shutdown() async {
        guard !isShutDown else { return }
        isShutDown = true
        generation += 1
        let running = loop
        loop = nil
        running?.cancel()
        await running?.value
        current.isLeader = false
        current.holding = false
        do {
            try await registry.release()
            if current.record != nil { logger.info("released the leader record in \(registry.name)") }
            current.record = nil
        } catch {
            current.lastError = "release failed: \(error)"
            logger.warning("releasing the leader record in \(registry.name) failed (it expires with its TTL): \(error)")
        }
    }

    // MARK: The loop

    private func isCurrent(_ mine: UInt64) -> Bool { mine == generation && !Task.isCancelled }

    /// Claims, then renews and verifies, until leadership changes. Never throws.
    private func keepWhileLeader(generation mine: UInt64) async {
        var failures = 0
        var held: VersionedLeaderRecord?
        while isCurrent(mine) {
            do {
                if let record = held {
                    held = try await verify(record, generation: mine)
                } else {
                    held = try await claim(lastKnown: current.record, generation: mine)
                }
                guard isCurrent(mine) else { return }
                guard let record = held else { continue }
                failures = 0
                succeeded(holding: record)
                try await Task.sleep(for: settings.renewInterval)
            } catch {
                guard isCurrent(mine) else { return }
                held = nil
                failures += 1
                current.holding = false
                current.lastError = "\(error)"
                logger.warning("keeping the leader record in \(registry.name) failed (will retry): \(error)",
                               metadata: ["failures": "\(failures)"])
                let delay = settings.retry.backoff(afterFailures: failures, random: &random)
                do { try await Task.sleep(for: delay) } catch { return }
            }
        }
    }

    /// Renews the session or lease and re-reads the record; `nil` when it is no longer ours.
    private func verify(_ record: VersionedLeaderRecord, generation mine: UInt64) async throws -> VersionedLeaderRecord? {
        do {
            try await registry.renew()
        } catch {
            if isCurrent(mine) { current.renewFailures += 1 }
            throw error
        }
        let seen = try await registry.read()
        if seen?.version == record.version, seen?.record == me { return record }
        guard isCurrent(mine) else { return nil }
        current.holding = false
        if let seen {
            logger.notice("the leader record in \(registry.name) now names node \(seen.record.id) (version \(seen.version)); restoring it")
        } else {
            logger.notice("the leader record in \(registry.name) disappeared; restoring it")
        }
        return nil
    }

    /// Makes the record name this node under this registry's session or lease.
    ///
    /// `lastKnown` is the record as this keeper last held it: when the store still shows that
    /// version, the record is still ours and only needs renewing.
    private func claim(lastKnown: VersionedLeaderRecord?, generation mine: UInt64) async throws -> VersionedLeaderRecord? {
        // A session or lease that expired meanwhile is forgotten by renew(), so the writes below
        // start a fresh one; any other renewal error resurfaces in the read.
        do {
            try await registry.renew()
        } catch {
            logger.debug("renewing before claiming the leader record in \(registry.name) failed: \(error)")
        }
        for _ in 0..<settings.maxCompareAndSetRounds {
            guard isCurrent(mine) else { return nil }
            var seen = try await registry.read()
            if seen == nil {
                switch try await registry.createIfAbsent(me) {
                case .created(let record):
                    wrote(record, replacing: nil)
                    return record
                case .existing(let record):
                    seen = record
                }
            }
            guard let existing = seen else { continue }
            if existing.record == me, existing.version == lastKnown?.version { return existing }
            guard isCurrent(mine) else { return nil }
            let holder = existing.record.id
            guard holder == me.id || isMember(holder) else {
                throw LeaderRegistryError(registry: registry.name, message:
                    "the record names node \(holder.debugDescription) at \(existing.record.apiAddr), which is not a member of this "
                    + "cluster: another cluster uses the same -disco-key (give each cluster its own); not replacing it until it "
                    + "expires or names a member")
            }
            if let replaced = try await registry.update(me, expectedVersion: existing.version) {
                wrote(replaced, replacing: existing)
                return replaced
            }
            logger.debug("compare-and-set on the leader record in \(registry.name) lost against version \(existing.version); re-reading")
        }
        throw LeaderRegistryError(registry: registry.name, message:
            "lost the compare-and-set on the leader record \(settings.maxCompareAndSetRounds) times in a row")
    }

    // MARK: Bookkeeping

    private func wrote(_ record: VersionedLeaderRecord, replacing old: VersionedLeaderRecord?) {
        current.writes += 1
        if let old, old.record.id != me.id {
            logger.info("replaced node \(old.record.id)'s leader record in \(registry.name) (version \(record.version))")
        } else {
            logger.info("wrote the leader record in \(registry.name) (version \(record.version))")
        }
    }

    private func succeeded(holding record: VersionedLeaderRecord) {
        if current.lastError != nil {
            logger.info("holding the leader record in \(registry.name) again (version \(record.version))")
        }
        current.holding = true
        current.record = record
        current.lastError = nil
        current.lastSuccess = ContinuousClock.now - startedAt
    }
}
