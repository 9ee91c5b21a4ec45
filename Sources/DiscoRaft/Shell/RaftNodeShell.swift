import DiscoCore
import DiscoNet
import DiscoSystem
import Synchronization

// MARK: - RaftNodeShell

/// A running Raft node: the pure core plus everything it needs from the outside world — durable
/// storage (the WAL in a data directory), a tick timer, the internode transport and the
/// application's state machine.
///
/// All work happens on one driver thread per node, in the core's order: persist entries and hard
/// state (one fsync for everything that arrived together: group commit), then send the messages
/// that depend on them, then apply committed entries, then answer waiting requests. Requests are
/// safe from any task and never outlive their cause: a proposal fails when this node stops
/// leading before it commits, every request fails at shutdown, and a caller whose task is
/// cancelled stops waiting at once. Call ``shutdown(transferLeadership:)`` before dropping the shell.
public final class RaftNodeShell: Sendable {
    public let id: NodeID
    /// Where this node accepts internode connections.
    public let listenAddress: PeerAddress
    public let dataDirectory: String

    /// Events waiting for the driver (internal for tests).
    let inbox: BatchQueue<ShellEvent>
    private let observers: ShellObservers
    private let transport: RaftTransport
    /// Tasks the driver started (see ``ShellDriver/background``), awaited at shutdown.
    private let background: OwnedTasks
    private let loop: EventLoop
    private let driverTask: Task<Void, Never>
    private let ticker: Task<Void, Never>
    private let refusedMessages: RefusalCounter
    private let shutdownTask = Mutex<Task<Void, Never>?>(nil)
    private let lock: FileLock

    // MARK: Starting

    /// Recovers the node from `configuration.dataDirectory` (bootstrapping a new cluster there
    /// when it is empty and `bootstrapVoters` is set), restores `stateMachine` from the latest
    /// snapshot, starts listening and starts the node. Committed entries after the snapshot are
    /// applied again as the node catches up.
    public static func start(_ configuration: RaftShellConfiguration,
                             stateMachine: any RaftStateMachine) async throws -> RaftNodeShell {
        let logger = configuration.logger
        // Refused before the data directory is touched (the transport refuses it too).
        if let problem = configuration.id.reservationProblem {
            throw RaftShellError(.invalidArgument, "node ID \(problem)")
        }
        try FileIO.makeDirectory(configuration.dataDirectory)
        let lock = try FileLock.dataDirectory(configuration.dataDirectory)
        do {
            return try await start(configuration, stateMachine: stateMachine, lock: lock, logger: logger)
        } catch {
            lock.release()
            throw error
        }
    }

    private static func start(_ configuration: RaftShellConfiguration, stateMachine: any RaftStateMachine,
                              lock: FileLock, logger: Logger) async throws -> RaftNodeShell {
        var storage = try DurableRaftStorage(directory: configuration.dataDirectory, segmentSize: configuration.segmentSize)
        if let repaired = storage.repairedTail { logger.warning("WAL tail repaired: \(repaired)") }
        var (state, snapshot) = try storage.load()
        if state.isEmpty, !configuration.bootstrapVoters.isEmpty {
            try checkBootstrapVoters(configuration.bootstrapVoters, id: configuration.id)
            state = .bootstrap(voters: configuration.bootstrapVoters)
            try storage.initialize(with: state)
            logger.info("bootstrapped a new cluster with voters \(configuration.bootstrapVoters.map(\.rawValue))")
        }
        if let recovered = snapshot { try stateMachine.restore(from: recovered.data) }
        snapshot = nil  // restored: the node keeps only its metadata (in `state`), storage the rest
        let node = try RaftNode(id: configuration.id, options: configuration.raft, state: state,
                                random: DeterministicRandom(seed: configuration.seed ?? UInt64.random(in: 0...UInt64.max)))

        let inbox = BatchQueue<ShellEvent>(maxCount: configuration.maxQueuedMessages, policy: .refuseNew)
        let refused = RefusalCounter()
        let transport = try await RaftTransport.start(
            localID: configuration.id, host: configuration.listenHost, port: configuration.listenPort,
            addressBook: configuration.addressBook, options: configuration.transport, logger: logger,
            group: configuration.group, otherFrames: configuration.otherFrames
        ) { [inbox, refused] message in
            if inbox.push(.message(message)) > 0 { refused.count.add(1, ordering: .relaxed) }
        }
        let loop: EventLoop
        do {
            loop = try EventLoop(name: "raft-\(configuration.id.rawValue)")
        } catch {
            await transport.close(flushing: false)
            throw error
        }
        let observers = ShellObservers(status: RaftStatus(node: node, isStopped: false, storageSyncs: storage.syncCount))
        logger.info("Raft node \(configuration.id) listening on \(transport.listenAddress), log \(node.firstIndex)...\(node.lastIndex), term \(node.term)")
        let background = OwnedTasks()
        let driver = ShellDriver(node: node, storage: storage, stateMachine: stateMachine, transport: transport,
                                 inbox: inbox, observers: observers, logger: logger, background: background)
        let driverTask = Task(executorPreference: loop) { await driver.run() }
        let interval = configuration.tickInterval
        let ticker = Task { [inbox] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if inbox.push(.tick, force: true) > 0 { return }
            }
        }
        return RaftNodeShell(id: configuration.id, listenAddress: transport.listenAddress,
                             dataDirectory: configuration.dataDirectory, inbox: inbox, observers: observers,
                             transport: transport, background: background, loop: loop, driverTask: driverTask, ticker: ticker,
                             refused: refused, lock: lock)
    }

    private init(id: NodeID, listenAddress: PeerAddress, dataDirectory: String, inbox: BatchQueue<ShellEvent>,
                 observers: ShellObservers, transport: RaftTransport, background: OwnedTasks, loop: EventLoop, driverTask: Task<Void, Never>,
                 ticker: Task<Void, Never>, refused: RefusalCounter, lock: FileLock) {
        self.id = id
        self.listenAddress = listenAddress
        self.dataDirectory = dataDirectory
        self.inbox = inbox
        self.observers = observers
        self.transport = transport
        self.background = background
        self.loop = loop
        self.driverTask = driverTask
        self.ticker = ticker
        refusedMessages = refused
        self.lock = lock
    }

    /// Refuses a bootstrap voter list that is empty or leaves this node out.
    static func checkBootstrapVoters(_ voters: [NodeID], id: NodeID) throws(RaftShellError) {
        guard voters.contains(id) else {
            throw RaftShellError(.invalidArgument,
                                 "bootstrap voters \(voters.map(\.rawValue)) do not include this node (\(id)); list every founding voter, this node among them")
        }
    }

    // MARK: Bootstrapping in place

    /// Makes this running node the first member of a new cluster whose voters are `voters`
    /// (this node among them), as ``start(_:stateMachine:)`` does with
    /// ``RaftShellConfiguration/bootstrapVoters``: the configuration becomes entry 1 of term 1 in
    /// durable storage, and the node campaigns once its election timeout passes (call
    /// ``campaign()`` to start at once). The other voters may stay empty: they vote for it and take
    /// the configuration from it as their leader.
    ///
    /// Runs on the node's driver, ordered with everything else. Throws ``RaftShellError`` with
    /// code `invalidArgument` when `voters` leaves this node out, `alreadyHasState` when the node
    /// has any Raft state (see ``RaftStatus/hasState``), `storage` when the state cannot be
    /// written (the node stops), `shutDown` after shutdown.
    public func bootstrap(voters: [NodeID]) async throws {
        try Self.checkBootstrapVoters(voters, id: id)
        let request = PendingRequest<Void>(cancelledMessage: "stopped waiting for the bootstrap; the node may still bootstrap")
        try await request.wait { inbox.push(.bootstrap(voters, $0), force: true) == 0 }
    }

    // MARK: Requests

    /// Appends `data` to the replicated log. Returns its index once it is committed and applied
    /// on this node. Throws ``RaftShellError`` with code `notLeader` (and the leader, if known)
    /// when this node is not the leader, `leadershipLost` when it stops leading before the entry
    /// commits (a later leader may still apply it), `shutDown` when the node stops first, and
    /// `cancelled` at once when the calling task is cancelled (the entry may still be applied).
    public func propose(_ data: [UInt8]) async throws -> UInt64 {
        try await request("stopped waiting for the proposal; it may still be committed and applied") { .propose(data, $0) }
    }

    /// A linearizable read barrier: returns once this node (the leader) has confirmed it still
    /// leads and its state machine has applied everything committed before the call, so reading
    /// the state machine now observes every completed write. Returns the read index. Fails with
    /// `notLeader` when the node does not lead or stops leading before a quorum confirms it, and
    /// with `cancelled` when the calling task is cancelled.
    @discardableResult
    public func readIndex() async throws -> UInt64 {
        try await request("stopped waiting for the read index; nothing was read") { .read($0) }
    }

    /// Proposes a single-server membership change; returns once it is committed and applied here.
    /// Fails as ``propose(_:)`` does.
    public func changeMembership(_ change: ConfigChange) async throws -> UInt64 {
        try await request("stopped waiting for the membership change (\(change)); it may still be applied") { .configChange(change, $0) }
    }

    /// Hands leadership to `target` (nil: the voter with the most of the log). Returns the new
    /// leader (when known) once this node has stepped down.
    @discardableResult
    public func transferLeadership(to target: NodeID? = nil) async throws -> NodeID {
        let request = PendingRequest<NodeID>(cancelledMessage: "stopped waiting for the leadership transfer; leadership may still move")
        return try await request.wait { inbox.push(.transfer(target, $0), force: true) == 0 }
    }

    /// Starts an election now instead of waiting for the election timeout.
    public func campaign() {
        inbox.push(.campaign, force: true)
    }

    /// Queues the event `make` builds for the driver and waits for its answer (or the caller's
    /// cancellation, answered with `cancelledMessage`).
    private func request(_ cancelledMessage: String, _ make: (PendingRequest<UInt64>) -> ShellEvent) async throws -> UInt64 {
        let request = PendingRequest<UInt64>(cancelledMessage: cancelledMessage)
        return try await request.wait { inbox.push(make($0), force: true) == 0 }
    }

    // MARK: Observing

    /// Role, term, leader, indexes and configuration as of the node's last turn.
    public var status: RaftStatus { observers.status }

    /// ``RaftStatus/isLeader`` and ``RaftStatus/lastLeaderContact`` of ``status``, without a
    /// copy of the rest (its peers, its configuration).
    public var leaderContact: (isLeader: Bool, lastLeaderContact: ContinuousClock.Instant?) { observers.leaderContact }

    /// The current leadership, then every change of leader or term, until shutdown.
    public func leadershipChanges() -> AsyncStream<LeadershipChange> { observers.subscribe() }

    /// Transport counters.
    public var transportMetrics: RaftTransportMetrics { transport.metrics }

    /// The peers this node keeps an outbound sender for (internal for tests).
    var outboundPeers: Set<NodeID> { transport.outboundPeers }

    /// Network messages refused because the node's queue was full.
    public var refusedMessageCount: Int { refusedMessages.count.load(ordering: .relaxed) }

    // MARK: Shutdown

    /// Stops the node: hands leadership to the most up-to-date voter first when this node leads
    /// and `transferLeadership` is set (waiting at most an election timeout), syncs storage,
    /// fails waiting requests with `shutDown`, and closes the transport (letting queued messages
    /// go out when transferring). Without transfer it is an abrupt stop, as a crash after the
    /// last fsync. Every task the node started has returned when this returns. Safe to call more
    /// than once.
    public func shutdown(transferLeadership: Bool = true) async {
        let task = shutdownTask.withLock { existing -> Task<Void, Never> in
            if let existing { return existing }
            let started = Task { [self] in
                inbox.push(.shutdown(transfer: transferLeadership), force: true)
                await driverTask.value
                lock.release()
                ticker.cancel()
                await background.close(cancelling: false)
                await transport.close(flushing: transferLeadership)
                observers.finish()
                loop.shutdown()
            }
            existing = started
            return started
        }
        await task.value
    }
}
