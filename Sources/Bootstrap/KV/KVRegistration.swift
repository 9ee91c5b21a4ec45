import DiscoCore

// MARK: - KVRegistration

/// Cluster formation in the KV discovery modes (`consul-kv`, `etcd-kv`): read the leader record;
/// when there is none, create it (create-if-absent) and bootstrap as a single node; otherwise
/// join the node the record names.
///
/// Several empty nodes started together all read "no record"; exactly one wins the
/// create-if-absent and bootstraps, the others get the winner's record back and join it. The
/// winner bootstraps a one-node cluster while the others are already trying to join it, so
/// their first join attempts may be answered "no leader yet": the caller retries joining and,
/// when joining keeps failing, registers again to pick up a newer record (a dead leader's
/// record expires with its session or lease).
///
/// Store errors are retried with jittered exponential backoff (``KVRetryPolicy``); each failure
/// is logged with the store's name and the error. Non-voters never create the record: they wait
/// until a voter has published one.
public struct KVRegistration: Sendable {
    /// What this node should do to form or reach the cluster.
    public enum Outcome: Hashable, Sendable {
        /// This call created the record: bootstrap a single-node cluster with this node as its
        /// only voter (the node's ``LeaderRecordKeeper`` then keeps the record alive).
        case bootstrapSingle(VersionedLeaderRecord)
        /// Another node's record exists: join the cluster through `leaderAPI` (its `api_addr`).
        case join(leaderAPI: PeerAddress, record: VersionedLeaderRecord)
        /// The record already names this node under another session or lease, e.g. after a
        /// restart within the record's TTL.
        /// With Raft state on disk the node simply restarts; without, the record is left over
        /// from an earlier run, whose cluster may live on: the caller waits until the record
        /// names another node (and joins it) or expires (and registers again).
        case ownRecord(VersionedLeaderRecord)
    }

    /// The store holding the record.
    public let registry: any LeaderRegistry
    /// The record this node would publish: its ID, API URL and Raft address.
    public let me: LeaderRecord
    /// Whether this node is a voter; only voters create the record.
    public let voter: Bool
    public let retry: KVRetryPolicy
    public let logger: Logger
    private let seed: UInt64

    /// - Parameters:
    ///   - me: this node's record (`api_addr` as a URL `http://host:port`, `addr` as `host:port`).
    ///   - seed: seeds the backoff jitter.
    public init(registry: any LeaderRegistry, me: LeaderRecord, voter: Bool = true, retry: KVRetryPolicy = KVRetryPolicy(),
                logger: Logger, seed: UInt64 = 0) {
        self.registry = registry
        self.me = me
        self.voter = voter
        self.retry = retry
        self.logger = logger
        self.seed = seed
    }

    // MARK: Registering

    /// Reads (and, when absent, creates) the leader record and decides how to form the cluster.
    ///
    /// - Throws: ``KVRegistrationError`` when the retry policy is exhausted (naming the store,
    ///   the attempts, the time spent and the last failure), or `CancellationError`.
    public func register() async throws -> Outcome {
        let start = ContinuousClock.now
        var random = DeterministicRandom(seed: seed)
        var attempts = 0
        var consecutiveFailures = 0
        var lastProblem: (code: KVRegistrationError.Code, detail: String)?
        while true {
            try Task.checkCancellation()
            attempts += 1
            do {
                if let outcome = try await attempt() {
                    log(outcome)
                    return outcome
                }
                lastProblem = (.noLeaderRecord, "no leader record yet; non-voters wait for a voter to create it")
                logger.info("no leader record in \(registry.name) yet; waiting for a voter to create it",
                            metadata: ["attempt": "\(attempts)"])
            } catch let failure as RecordProblem {
                lastProblem = (.malformedRecord, failure.detail)
                logger.warning("leader record in \(registry.name) is unusable: \(failure.detail)", metadata: ["attempt": "\(attempts)"])
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                lastProblem = (.storeFailed, "\(error)")
                logger.warning("leader registry \(registry.name) failed: \(error)", metadata: ["attempt": "\(attempts)"])
            }
            consecutiveFailures += 1
            let elapsed = ContinuousClock.now - start
            guard retry.allowsAnotherAttempt(after: attempts, elapsed: elapsed) else {
                let problem = lastProblem ?? (.storeFailed, "no attempt was made")
                let failure = KVRegistrationError(problem.code, registry: registry.name, attempts: attempts,
                                                  elapsed: elapsed, detail: problem.detail)
                logger.error("\(failure)")
                throw failure
            }
            var delay = retry.backoff(afterFailures: consecutiveFailures, random: &random)
            if let deadline = retry.deadline { delay = min(delay, max(.zero, deadline - elapsed)) }
            try await Task.sleep(for: delay)
        }
    }

    /// One read-then-create round; `nil` when a non-voter finds no record.
    func attempt() async throws -> Outcome? {
        if let existing = try await registry.read() { return try await decideExisting(existing) }
        guard voter else { return nil }
        // An earlier attempt that lost the race opened a session or lease nobody renews; it may
        // have expired while this node tried to join. renew() forgets an expired one, so the
        // create below opens a fresh one instead of being refused for good.
        do {
            try await registry.renew()
        } catch {
            logger.debug("renewing before creating the leader record in \(registry.name) failed: \(error)")
        }
        switch try await registry.createIfAbsent(me) {
        case .created(let record):
            return .bootstrapSingle(record)
        case .existing(let record):
            return try await decideExisting(record)
        }
    }

    /// The outcome for a record found in the store. One naming this node under this registry's
    /// own session or lease (``LeaderRegistry/holds(_:)``) was created by an earlier attempt of
    /// this registration whose answer was lost (a timeout after the store applied it; etcd
    /// failing over to another endpoint): it counts as created here. That is safe: the session
    /// or lease is this process's (a restarted node gets a new one, so its record from an
    /// earlier run is never taken for this), and before formation ends this process writes the
    /// record only by create-if-absent, which writes only when no record exists; the keeper
    /// writes only while this node leads, which a node registering has no cluster to do.
    func decideExisting(_ existing: VersionedLeaderRecord) async throws -> Outcome {
        if voter, existing.record == me, try await registry.holds(existing) {
            logger.info("the leader record in \(registry.name) naming this node is held under this process's own session or lease: "
                        + "an earlier attempt created it and its answer was lost")
            return .bootstrapSingle(existing)
        }
        return try decide(existing)
    }

    /// The outcome for a record that exists and was not created by this call.
    func decide(_ existing: VersionedLeaderRecord) throws -> Outcome {
        if existing.record.id == me.id { return .ownRecord(existing) }
        guard !existing.record.apiAddr.isEmpty else {
            throw RecordProblem(detail: "the record of node \(existing.record.id.debugDescription) has no api_addr "
                                    + "(expected {\"id\",\"api_addr\":\"http://host:port\",\"addr\":\"host:port\"})")
        }
        do {
            return .join(leaderAPI: try PeerAddress(parsing: existing.record.apiAddr), record: existing)
        } catch {
            throw RecordProblem(detail: "the record of node \(existing.record.id.debugDescription) has an unusable api_addr: \(error)")
        }
    }

    private func log(_ outcome: Outcome) {
        switch outcome {
        case .bootstrapSingle(let record):
            logger.info("created the leader record in \(registry.name) (version \(record.version)); bootstrapping as a single-node cluster")
        case .join(let api, let record):
            logger.info("leader record in \(registry.name) names node \(record.record.id) at \(api.url); joining it")
        case .ownRecord(let record):
            logger.info("leader record in \(registry.name) already names this node (version \(record.version))")
        }
    }

    /// A record that exists but cannot be used; retried, since its writer may fix it.
    struct RecordProblem: Error {
        let detail: String
    }
}

// MARK: - KVRegistrationError

/// Registration gave up: names the store, how long and how often it tried, and the last failure.
public struct KVRegistrationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure ended the registration; open for new cases.
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The store could not be read or written (unreachable, refused, timed out).
        public static let storeFailed = Code(rawValue: "store-failed")
        /// A non-voter found no record to join before the policy ran out.
        public static let noLeaderRecord = Code(rawValue: "no-leader-record")
        /// The record exists but does not hold a usable `api_addr`.
        public static let malformedRecord = Code(rawValue: "malformed-record")
        public var description: String { rawValue }
    }

    public let code: Code
    /// The registry's name (store, address and key).
    public let registry: String
    public let attempts: Int
    public let elapsed: Duration
    /// The last failure, as text.
    public let detail: String

    public init(_ code: Code, registry: String, attempts: Int, elapsed: Duration, detail: String) {
        self.code = code
        self.registry = registry
        self.attempts = attempts
        self.elapsed = elapsed
        self.detail = detail
    }

    public var description: String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let time = (seconds * 10).rounded() / 10
        return "leader registration in \(registry) gave up after \(attempts) attempt\(attempts == 1 ? "" : "s") over \(time)s "
            + "(\(code)): \(detail)"
    }
}
