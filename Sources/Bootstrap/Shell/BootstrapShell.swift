import DiscoCore
import DiscoNet
import Synchronization

// MARK: - BootstrapProgress

/// What formation is doing, for `GET /status` and `/metrics`.
public struct BootstrapProgress: Hashable, Sendable {
    /// Where formation is: not started, under way, or how it ended.
    public enum State: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        /// Not started.
        case idle
        case seeking
        case proposing
        case promised
        /// Shut down before an outcome.
        case stopped
        // The outcomes (``BootstrapEngine/Outcome``).
        case joined
        case bootstrapped
        case clustered
        case existingState = "existing-state"
        case timedOut = "timed-out"

        public var description: String { rawValue }
    }

    public var state: State
    /// Rounds begun so far.
    public var rounds: Int
    /// Voters heard from recently, this node included, sorted by ID.
    public var knownVoters: [BootstrapPeer]
    /// The latest failure worth showing an operator (discovery, refusals, disk), if any.
    public var lastError: String?
    /// The latest configuration problem met (credentials, insecure redirect, refusal), with the
    /// flag to fix, if any; it outlives later transient failures.
    public var configurationProblem: String?
    /// How formation ended, once it has.
    public var outcome: BootstrapEngine.Outcome?
    /// The cluster this node joined through `POST /join`, when that is how it ended.
    public var joined: JoinAccepted?
    /// The promise kept on disk when formation timed out while waiting for its proposer's verdict.
    public var unresolvedPromise: UnresolvedPromise?

    public init(state: State = .idle, rounds: Int = 0, knownVoters: [BootstrapPeer] = [], lastError: String? = nil,
                outcome: BootstrapEngine.Outcome? = nil, joined: JoinAccepted? = nil) {
        self.state = state
        self.rounds = rounds
        self.knownVoters = knownVoters
        self.lastError = lastError
        self.configurationProblem = nil
        self.outcome = outcome
        self.joined = joined
    }
}

/// Why ``BootstrapShell/run()`` failed.
public struct BootstrapShellError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// `run()` was called twice.
        public static let alreadyRunning = Code(name: "already running")
        /// The node's bootstrap closure failed.
        public static let bootstrapFailed = Code(name: "bootstrap failed")
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}

// MARK: - BootstrapShell

/// Runs a ``BootstrapEngine`` for real: discovery lookups, HTTP to other nodes (notifies in
/// parallel with short timeouts), the promise on disk, rounds on the continuous clock. It also
/// answers the formation endpoints (`/notify`, `/bootstrap/*`) through ``handle(_:)``, before,
/// during and after formation.
public actor BootstrapShell {
    public struct Configuration: Sendable {
        public var settings: BootstrapEngine.Settings
        /// Seeds the engine's jitter.
        public var seed: UInt64
        /// Where the promise is kept (`<data-dir>/bootstrap-promise.json`).
        public var promiseFile: PromiseFile
        /// The node already has Raft state: formation ends at once with `existingState`.
        public var hasClusterState: Bool
        /// What this node sends to `POST /join` (the node fills in cluster and epoch).
        public var joinRequest: JoinRequest
        /// Per-target timeout of a notify.
        public var notifyTimeout: Duration = .seconds(1)
        /// Per-target timeout of a join (targets are tried in order, so keep it short).
        public var joinTimeout: Duration = .seconds(1)
        /// Timeout of proposals, abandons and status questions.
        public var requestTimeout: Duration = .seconds(2)

        public init(settings: BootstrapEngine.Settings, seed: UInt64, promiseFile: PromiseFile, hasClusterState: Bool = false,
                    joinRequest: JoinRequest? = nil) {
            self.settings = settings
            self.seed = seed
            self.promiseFile = promiseFile
            self.hasClusterState = hasClusterState
            self.joinRequest = joinRequest ?? JoinRequest(node: settings.me, cluster: settings.cluster)
        }
    }

    /// What the node provides.
    public struct Hooks: Sendable {
        /// One discovery round (static `-join` list, DNS, SRV).
        public var lookup: @Sendable () async -> Result<[PeerAddress], DiscoveryLookupFailure>
        /// Create the Raft cluster with exactly these voters.
        public var bootstrap: @Sendable ([BootstrapPeer]) async throws -> Void
        /// A peer's addresses were learned (notify senders and replies, proposal voters, join leaders).
        public var onPeer: @Sendable (BootstrapPeer) -> Void

        public init(lookup: @escaping @Sendable () async -> Result<[PeerAddress], DiscoveryLookupFailure>,
                    bootstrap: @escaping @Sendable ([BootstrapPeer]) async throws -> Void,
                    onPeer: @escaping @Sendable (BootstrapPeer) -> Void = { _ in }) {
            self.lookup = lookup
            self.bootstrap = bootstrap
            self.onPeer = onPeer
        }
    }

    let configuration: Configuration
    let hooks: Hooks
    let client: BootstrapClient
    let logger: Logger
    let startInstant = ContinuousClock.now
    var engine: BootstrapEngine
    var started = false
    var stopped = false
    var result: Result<BootstrapEngine.Outcome, any Error>?
    var waiter: CheckedContinuation<BootstrapEngine.Outcome, any Error>?
    var bootstrapFailure: String?
    /// Set when the latest promise could not be written; a proposal is then not accepted.
    var persistFailure: String?
    var roundTask: Task<Void, Never>?
    /// The shutdowns that cancelling ``run()`` starts; run() waits for them before it returns.
    nonisolated let cancellations = OwnedTasks()
    var tasks: [Int: Task<Void, Never>] = [:]
    var nextTaskID = 0
    var reportedPeers: [NodeID: BootstrapPeer] = [:]
    var lastError: String?
    /// Configuration problems met, logged at warning level without flooding the log.
    var problems = FormationProblems()
    var joined: JoinAccepted?
    let snapshot = Mutex(BootstrapProgress())

    /// Loads the promise file; a promise found there binds the engine again.
    public init(configuration: Configuration, hooks: Hooks, client: BootstrapClient = BootstrapClient(),
                logger: Logger) throws(PromiseFileError) {
        // Everything that can throw or read the engine happens before `self` is initialized.
        let promise = try configuration.promiseFile.load()
        let engine = BootstrapEngine(settings: configuration.settings, seed: configuration.seed, promise: promise,
                                     hasClusterState: configuration.hasClusterState)
        let outcome = engine.outcome
        let state = outcome.map(Self.state) ?? (promise == nil ? .idle : .promised)
        let initial = BootstrapProgress(state: state, outcome: outcome)
        self.configuration = configuration
        self.hooks = hooks
        self.client = client
        self.logger = logger
        self.engine = engine
        if let promise { logger.info("bootstrap: found a persisted promise to proposal \(promise.id)") }
        snapshot.withLock { $0 = initial }
    }

    /// The engine's current promise (for tests and status).
    public var promise: Proposal? { engine.promise }

    /// What formation is doing; readable without awaiting the actor.
    public nonisolated var progress: BootstrapProgress { snapshot.withLock { $0 } }

    // MARK: Running

    /// Runs formation until it ends and returns how. Throws `CancellationError` when shut down
    /// (or its task cancelled) first, and ``BootstrapShellError`` when the bootstrap closure failed.
    public func run() async throws -> BootstrapEngine.Outcome {
        guard !started else { throw BootstrapShellError(.alreadyRunning, detail: "run() was already called") }
        started = true
        let outcome: Result<BootstrapEngine.Outcome, any Error>
        do {
            outcome = .success(try await withTaskCancellationHandler {
                await apply(engine.start(now: now()))
                if let result { return try result.get() }
                return try await withCheckedThrowingContinuation { continuation in
                    if let result { continuation.resume(with: result) } else { waiter = continuation }
                }
            } onCancel: {
                // The handler is synchronous and outside the actor: it hands the shutdown to
                // `cancellations`, which run() awaits below, so it never outlives run().
                cancellations.spawn { await self.shutdown() }
            })
        } catch {
            outcome = .failure(error)
        }
        await cancellations.close(cancelling: false)
        return try outcome.get()
    }

    /// Raft reports that this node belongs to a cluster.
    public func clusterFormed() async {
        await apply(engine.clusterFormed(now: now()))
    }

    /// Stops rounds and requests in flight; ``handle(_:)`` keeps answering.
    public func shutdown() {
        stopped = true
        roundTask?.cancel()
        roundTask = nil
        for task in tasks.values { task.cancel() }
        tasks = [:]
        conclude(.failure(CancellationError()))
    }

    // MARK: Internals

    func now() -> Duration { ContinuousClock.now - startInstant }

    func conclude(_ outcome: Result<BootstrapEngine.Outcome, any Error>) {
        guard result == nil else { return }
        result = outcome
        waiter?.resume(with: outcome)
        waiter = nil
        refreshProgress()
    }

    /// Runs `body` as a tracked task, cancelled by ``shutdown()``.
    func spawn(_ body: @escaping @Sendable () async -> Void) {
        guard !stopped else { return }
        let id = nextTaskID
        nextTaskID += 1
        tasks[id] = Task {
            await body()
            self.taskEnded(id)
        }
    }

    func taskEnded(_ id: Int) { tasks[id] = nil }

    func progressNow() -> BootstrapProgress {
        let state: BootstrapProgress.State
        switch engine.phase {
        case .seeking: state = !started ? .idle : (result != nil ? .stopped : .seeking)
        case .proposing: state = result != nil ? .stopped : .proposing
        case .promised: state = result != nil ? .stopped : .promised
        case .finished(let outcome): state = Self.state(of: outcome)
        }
        var progress = BootstrapProgress(state: state, rounds: engine.round, knownVoters: engine.freshVoters(), lastError: lastError,
                                         outcome: engine.outcome, joined: joined)
        progress.configurationProblem = problems.latest.map(FormationProblems.message)
        progress.unresolvedPromise = engine.unresolvedPromise
        return progress
    }

    func refreshProgress() {
        let current = progressNow()
        snapshot.withLock { $0 = current }
    }

    static func state(of outcome: BootstrapEngine.Outcome) -> BootstrapProgress.State {
        switch outcome {
        case .joined: .joined
        case .bootstrapped: .bootstrapped
        case .clustered: .clustered
        case .existingState: .existingState
        case .timedOut: .timedOut
        }
    }

    func recordError(_ message: String) {
        lastError = message
    }

    /// A configuration problem: a warning naming the target, the reason and the flag to fix,
    /// once per distinct problem and then at most every 30 seconds while it lasts.
    func recordProblem(_ problem: BootstrapClientError) {
        recordError(problem.description)
        if let warning = problems.record(problem, now: now()) {
            logger.warning("bootstrap: \(warning)")
        } else {
            logger.debug("bootstrap: \(problem)")
        }
    }

    /// Passes a peer learned from the network to the node, once per change.
    func report(_ peer: BootstrapPeer) {
        guard peer.id != configuration.settings.me.id, reportedPeers[peer.id] != peer else { return }
        reportedPeers[peer.id] = peer
        hooks.onPeer(peer)
    }
}
