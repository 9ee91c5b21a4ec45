import DiscoCore
import DiscoSystem
import LeaseCore

// MARK: - HotColdLease

/// The lease shell of one replica: drives a `LeaseHolder` (this replica's belief) and a
/// `LeaseGrantor` (the grant decision, acted on while this node leads) with the node's monotonic
/// clock, over a ``LeaseTableStore``.
///
/// ``run()`` owns every task the shell needs — the store's event stream, one timer, the
/// proposals in flight, the hook runner, the state file writer and the candidacy announcer — and
/// returns after ``stop()`` (having stepped down and released the lease) or when cancelled (a
/// crash, as far as the lease is concerned: the lease then expires by itself). One lease loop
/// handles every input in turn; nothing it does waits on a hook, a file or a proposal.
///
/// The application's questions go to ``gate`` (synchronous, clock-checked); the rest of the
/// node feeds upstream health with ``setUpstreamHealthy(_:)`` and asks for a planned switch-over
/// with ``move(to:)``.
public actor HotColdLease {
    public nonisolated let configuration: HotColdConfiguration
    /// This replica's node.
    public nonisolated let node: NodeID
    /// This process's incarnation: a fresh random value per shell, so a restarted process never
    /// acts under its predecessor's claim.
    public nonisolated let incarnation: UInt64
    /// Hot or cold right now, and the token to act with.
    public nonisolated let gate: HotColdGate
    public nonisolated let metrics: HotColdMetrics

    let store: any LeaseTableStore
    let logger: Logger
    /// Told every change of state, from the lease loop: it must return at once.
    let observe: @Sendable (HotColdChange) -> Void
    let wallClock: LogClock
    /// The instant the lease cores count from (their `now` is the time since it).
    let origin: ContinuousClock.Instant
    nonisolated let inputs: AsyncStream<Input>
    nonisolated let input: AsyncStream<Input>.Continuation
    nonisolated let resumes: AsyncStream<Void>
    nonisolated let resume: AsyncStream<Void>.Continuation

    var holder: LeaseHolder
    var grantor: LeaseGrantor
    var candidates: [LeaseCandidate] = []
    var leader = LeaseStoreLeader.none
    /// The last leader other than this node that this node knew of (what a won election replaced).
    var lastOtherLeader: NodeID?
    /// Whether this node proposes the group's grants (``LeaseGrantor/grants(isLeader:leader:candidates:)``).
    var granting = false
    /// Since when (local time) the Raft leader, known and not this node, has shown no candidacy
    /// for the group.
    var leaderRunsNoneSince: Duration?
    var healthy = true
    /// Local deadlines a timer task sleeps towards.
    var pendingWakeups: Set<Duration> = []
    var pendingReleases = 0
    var stopping = false
    var hookInvocations: AsyncStream<HotColdHookInvocation>.Continuation?
    var stateFileUpdates: AsyncStream<HotColdStatus>.Continuation?
    var announcements: AsyncStream<LeaseCandidate>.Continuation?

    /// A shell for `node` with `configuration` (validated by the caller) over `store`. `observe`
    /// hears every change of state (the node appends them to its event log); it runs on the
    /// lease loop and must return at once (hand the change on, e.g. into a stream).
    public init(node: NodeID, configuration: HotColdConfiguration, store: any LeaseTableStore, logger: Logger,
                wallClock: LogClock = .system, incarnation: UInt64 = UInt64.random(in: 1...UInt64.max),
                observe: @escaping @Sendable (HotColdChange) -> Void = { _ in }) {
        self.node = node
        self.observe = observe
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.wallClock = wallClock
        self.incarnation = incarnation
        let origin = ContinuousClock.now
        self.origin = origin
        metrics = HotColdMetrics()
        gate = HotColdGate(status: HotColdStatus(group: configuration.group, node: node, sinceWallNanoseconds: wallClock.now(),
                                                 mayBeHot: configuration.mayBeHot, priority: configuration.priority))
        holder = LeaseHolder(settings: configuration.lease, group: configuration.group, me: node, incarnation: incarnation, now: .zero)
        grantor = LeaseGrantor(settings: configuration.lease, group: configuration.group)
        (inputs, input) = AsyncStream<Input>.makeStream()
        (resumes, resume) = AsyncStream<Void>.makeStream()
    }

    // MARK: Inputs from the rest of the node

    /// The upstream's health changed. Unhealthy closes the gate at once; the loop then steps
    /// down and releases the lease so another replica takes over without waiting for the ttl.
    public nonisolated func setUpstreamHealthy(_ healthy: Bool) {
        if !healthy { gate.closeForUnhealthyUpstream(true) }
        input.yield(.health(healthy))
    }

    /// Asks the shell to stop: it becomes cold (no new write is passed to the upstream), waits
    /// for the writes already passed on to answer (at most ``HotColdConfiguration/drainTimeout``,
    /// renewing meanwhile so nobody else is granted), releases the lease, runs its last hook and
    /// returns from ``run()``.
    public nonisolated func stop() {
        input.yield(.stop)
    }

    /// Proposes a planned switch-over of the group to `target`: the hot replica stops acting,
    /// waits for its writes in flight as for ``stop()``, and releases; then the leader grants to
    /// `target` if it is eligible.
    public nonisolated func move(to target: NodeID) async -> LeaseProposalOutcome {
        await store.propose(.move(configuration.group, to: target), timeout: configuration.lease.ttl)
    }

    /// The group's candidacies as this replica last learned them (`inTouch`: the node is alive
    /// as far as this replica can tell): what a move target is checked against.
    public var knownCandidates: [LeaseCandidate] { candidates }

    /// Stops handling inputs until ``resumeLoop()``, as a SIGSTOP would (fault injection for
    /// tests). The gate keeps answering from the clock meanwhile.
    package nonisolated func pauseLoop() { input.yield(.pause) }

    /// Lets a paused loop go on with everything that queued up meanwhile.
    package nonisolated func resumeLoop() { resume.yield() }

    // MARK: Time

    /// The cores' `now` for `instant`.
    func local(_ instant: ContinuousClock.Instant) -> Duration { instant - origin }

    /// The instant of the cores' local time `time`.
    func instant(_ time: Duration) -> ContinuousClock.Instant { origin + time }
}

// MARK: - Inputs and jobs

extension HotColdLease {
    /// Everything the lease loop reacts to.
    enum Input: Sendable {
        case store(LeaseStoreEvent)
        /// A timer armed for local time `deadline` fired.
        case tick(Duration)
        case renewalAnswered(token: UInt64, sentAt: Duration, LeaseProposalOutcome)
        case releaseAnswered(LeaseCommand, LeaseProposalOutcome)
        case grantAnswered(LeaseCommand, LeaseProposalOutcome)
        /// The wait for a hand-over's writes in flight ended, with `left` of them unanswered.
        case writesDrained(token: UInt64, left: Int)
        case health(Bool)
        case stop
        case pause
    }

    /// Work the loop hands to a child task (it never waits for it itself).
    enum Job: Sendable {
        case renew(LeaseCommand, sentAt: Duration)
        case release(LeaseCommand)
        case grant(LeaseCommand)
        case wake(at: Duration)
        /// Wait (at most the drain timeout) for the writes in flight with `token`.
        case drain(token: UInt64)
    }

    /// Does `job` and reports its outcome as an input.
    nonisolated func perform(_ job: Job) async {
        let settings = configuration.lease
        switch job {
        case .renew(let command, let sentAt):
            guard case .renew(_, _, _, let token, _) = command else { return }
            let outcome = await store.propose(command, timeout: settings.renewDeadline)
            input.yield(.renewalAnswered(token: token, sentAt: sentAt, outcome))
        case .release(let command):
            input.yield(.releaseAnswered(command, await store.propose(command, timeout: settings.ttl)))
        case .grant(let command):
            input.yield(.grantAnswered(command, await store.propose(command, timeout: settings.ttl)))
        case .drain(let token):
            _ = await gate.waitForWritesInFlight(within: configuration.drainTimeout)
            guard !Task.isCancelled else { return }
            input.yield(.writesDrained(token: token, left: gate.writesInFlight))
        case .wake(let deadline):
            do {
                try await Task.sleep(until: origin + deadline, clock: .continuous)
            } catch {
                return
            }
            input.yield(.tick(deadline))
        }
    }
}
