import DiscoCore
import DiscoNet

// MARK: - Events

/// Inputs of the driver loop, in arrival order.
enum ShellEvent: Sendable {
    case message(Message)
    case tick
    case propose([UInt8], PendingRequest<UInt64>)
    case configChange(ConfigChange, PendingRequest<UInt64>)
    case read(PendingRequest<UInt64>)
    case transfer(NodeID?, PendingRequest<NodeID>)
    case campaign
    case bootstrap([NodeID], PendingRequest<Void>)
    case shutdown(transfer: Bool)
}

// MARK: - ShellDriver

/// The single owner of a node's core, storage and state machine. It takes every event queued
/// since its last turn, feeds them to the core, then handles the resulting ``Ready`` in the
/// core's order: persist (one fsync for the whole batch: group commit), send, apply, answer.
/// It runs on a thread of its own, so fsync never blocks the cooperative pool.
final class ShellDriver {
    var node: RaftNode
    var storage: DurableRaftStorage
    let stateMachine: any RaftStateMachine
    let transport: RaftTransport
    let inbox: BatchQueue<ShellEvent>
    let observers: ShellObservers
    let logger: Logger
    /// Work the driver hands off so its thread never waits on the transport (closing the
    /// senders of peers that left); the node's shutdown awaits it before closing the transport.
    let background: OwnedTasks

    /// Proposals (and membership changes) awaiting application: index → term and waiter.
    var proposals: [UInt64: (term: UInt64, request: PendingRequest<UInt64>)] = [:]
    /// Requests whose entries committed this turn, answered once the turn's status is
    /// published: a caller that reads the node's status after its change committed (a learner
    /// added, a voter promoted) sees the change.
    var committedAnswers: [(request: PendingRequest<UInt64>, index: UInt64)] = []
    /// Reads waiting for the leader to confirm, by context.
    var reads: [UInt64: PendingRequest<UInt64>] = [:]
    var nextReadContext: UInt64 = 0
    /// Confirmed reads waiting for the state machine to reach their index.
    var readsAwaitingApply: [(index: UInt64, request: PendingRequest<UInt64>)] = []
    /// Leadership transfers in progress: waiter and ticks left before giving up.
    var transfers: [(target: NodeID, request: PendingRequest<NodeID>, ticksLeft: Int)] = []
    /// Set once shutdown was requested; the ticks left for a leadership hand-over.
    var shutdownTicksLeft: Int?
    var stopped = false
    /// Why the node stopped on its own (storage failed, a corrupt configuration entry).
    var failure: String?
    var members: Set<NodeID>
    /// Non-members this node sent to (removal notices, answers to a removed node's campaign).
    /// Sending opens a sender for them that no membership change would close: ``tidyStrangers()``
    /// closes them an election timeout later (sending again opens a new one).
    var strangers: Set<NodeID> = []
    var ticksUntilTidy = 0
    /// ``RaftNode/leaderContacts`` when the status was last made, and when it last moved (or
    /// the node led): the status's ``RaftStatus/lastLeaderContact``.
    var seenLeaderContacts: UInt64 = 0
    var lastLeaderContact: ContinuousClock.Instant?

    init(node: RaftNode, storage: DurableRaftStorage, stateMachine: any RaftStateMachine, transport: RaftTransport,
         inbox: BatchQueue<ShellEvent>, observers: ShellObservers, logger: Logger, background: OwnedTasks) {
        self.node = node
        self.storage = storage
        self.stateMachine = stateMachine
        self.transport = transport
        self.inbox = inbox
        self.observers = observers
        self.logger = logger
        self.background = background
        members = Set(node.config.members)
    }

    // MARK: The loop

    func run() async {
        processReady()
        publishStatus()
        while !stopped, let events = await inbox.next() {
            for event in events { handle(event) }
            processReady()
            checkShutdown()
            publishStatus()
        }
        stopped = true
        inbox.close()
        let shutDown = RaftShellError(.shutDown, "the node is shut down")
        for event in inbox.takeAll() { refuse(event, shutDown) }
        failEverything(shutDown)
        publishStatus()
        // A node that stopped on its own ends its leadership streams, so watchers learn of it.
        if failure != nil { observers.finish() }
    }

    /// Publishes the status as of this turn, then answers the requests whose entries committed
    /// in it.
    private func publishStatus() {
        observers.publish(currentStatus())
        let answers = committedAnswers
        committedAnswers.removeAll()
        for answer in answers { answer.request.resume(returning: answer.index) }
    }

    /// Answers a request that arrived after the loop stopped.
    private func refuse(_ event: ShellEvent, _ error: RaftShellError) {
        switch event {
        case .propose(_, let request), .configChange(_, let request), .read(let request):
            request.resume(throwing: error)
        case .transfer(_, let request):
            request.resume(throwing: error)
        case .bootstrap(_, let request):
            request.resume(throwing: error)
        case .message, .tick, .campaign, .shutdown:
            break
        }
    }

    /// The status to publish now; stamps the time when the node has heard from its leader (or
    /// leads) since the last one.
    func currentStatus() -> RaftStatus {
        if node.role == .leader || node.leaderContacts != seenLeaderContacts {
            seenLeaderContacts = node.leaderContacts
            lastLeaderContact = .now
        }
        return RaftStatus(node: node, isStopped: stopped, storageSyncs: storage.syncCount, failure: failure,
                          lastLeaderContact: lastLeaderContact)
    }

    // MARK: Ready

    /// Handles Readys until the core has nothing more to do.
    func processReady() {
        while !stopped, node.hasReady {
            let ready = node.ready()
            if let fault = ready.fault {
                stop(because: fault.message, code: .corruptConfiguration)
                return
            }
            let (beforePersist, afterPersist) = node.partitionMessages(of: ready)
            for message in beforePersist { send(message) }
            do {
                try storage.persist(ready)
            } catch {
                stop(because: "persisting to \(storage.directory) failed: \(error)")
                return
            }
            for message in afterPersist { send(message) }
            sendSnapshots(ready.snapshotSends)
            if let snapshot = ready.snapshot {
                do {
                    try stateMachine.restore(from: snapshot.data)
                } catch {
                    stop(because: "restoring the snapshot at index \(snapshot.metadata.index) failed: \(error)")
                    return
                }
                logger.info("installed snapshot at index \(snapshot.metadata.index) term \(snapshot.metadata.term)")
                failProposals(through: snapshot.metadata.index)
            }
            for entry in ready.committedEntries { apply(entry) }
            let notLeader = ready.softState.map { $0.role != .leader } ?? false
            node.advance(ready)
            for state in ready.readStates { answerRead(state) }
            releaseReads()
            if let soft = ready.softState { leadershipChanged(soft, notLeader: notLeader) }
            if ready.shouldSnapshot { takeSnapshot() }
            syncMembers()
        }
    }

    private func apply(_ entry: Entry) {
        if entry.kind == .normal { stateMachine.apply(entry) }
        guard let pending = proposals.removeValue(forKey: entry.index) else { return }
        if pending.term == entry.term {
            committedAnswers.append((pending.request, entry.index))
        } else {
            pending.request.resume(throwing: RaftShellError(
                .dropped, "leadership changed, entry \(entry.index) was not committed (the leader of term \(entry.term) replaced "
                    + "the entry of term \(pending.term))",
                leader: node.leader))
        }
    }

    /// Compacts the log through the applied index: the core records the snapshot's metadata,
    /// and the state machine's snapshot is written straight to the snapshot file in parts (no
    /// buffer of the state's size is built).
    private func takeSnapshot() {
        let index = node.appliedIndex
        guard index > node.snapshotIndex else { return }
        let source = stateMachine.snapshotSource()
        guard source.count <= RaftCodec.maxSnapshotSize else {
            // Stored, it could not be read back: the node would not restart. Keep the log instead.
            logger.error("not compacting the log through index \(index): the state machine's snapshot is \(source.count) bytes, "
                + "over the limit of \(RaftCodec.maxSnapshotSize) bytes")
            return
        }
        do {
            let metadata = try node.compact(through: index)
            try storage.saveSnapshot(metadata, data: source)
            logger.debug("compacted the log through index \(index) (a snapshot of \(source.count) bytes)")
        } catch {
            stop(because: "taking a snapshot at index \(index) failed: \(error)")
        }
    }

    /// Sends the stored snapshot to the followers the core named, read once for all of them (the
    /// core keeps only its metadata). A failed read or an older snapshot than asked for sends
    /// nothing: the core tries again after an election timeout.
    private func sendSnapshots(_ requests: [SnapshotSend]) {
        guard let first = requests.first else { return }
        let stored: Snapshot
        do {
            guard let read = try storage.storedSnapshot() else {
                logger.error("no snapshot stored to send to \(first.to) (index \(first.metadata.index) asked for)")
                return
            }
            stored = read
        } catch {
            logger.error("reading the snapshot to send to \(first.to) failed: \(error)")
            return
        }
        for request in requests {
            guard let message = request.message(carrying: stored) else {
                logger.error("the stored snapshot (index \(stored.metadata.index)) is older than the one to send to "
                    + "\(request.to) (index \(request.metadata.index))")
                continue
            }
            logger.debug("sending the snapshot at index \(stored.metadata.index) to \(request.to)")
            send(message)
        }
    }

    private func leadershipChanged(_ soft: SoftState, notLeader: Bool) {
        logger.info("\(soft.role) in term \(soft.term), leader \(soft.leader?.rawValue ?? "unknown")")
        failProposalsOfLostLeadership()
        guard notLeader else { return }
        let done = transfers
        transfers = []
        for transfer in done { transfer.request.resume(returning: soft.leader ?? transfer.target) }
    }

    private func send(_ message: Message) {
        if message.to != node.id, !members.contains(message.to) {
            if strangers.isEmpty { ticksUntilTidy = node.options.electionTicks }
            strangers.insert(message.to)
        }
        transport.send(message)
    }

    /// On a tick: closes the senders of the non-members sent to, once an election timeout passed.
    func tidyStrangers() {
        guard !strangers.isEmpty else { return }
        ticksUntilTidy -= 1
        guard ticksUntilTidy <= 0 else { return }
        strangers = []
        let (current, transport) = (members, transport)
        background.spawn(executorPreference: globalConcurrentExecutor) { await transport.retainPeers(current) }
    }

    /// Stops outbound connections to peers that left the configuration.
    private func syncMembers() {
        let current = Set(node.config.members)
        guard current != members else { return }
        members = current
        let transport = transport
        background.spawn(executorPreference: globalConcurrentExecutor) { await transport.retainPeers(current) }
    }

    // MARK: Stopping

    func stop(because reason: String, code: RaftShellError.Code = .storage) {
        logger.critical("Raft node \(node.id) stops: \(reason)")
        stopped = true
        failure = failure ?? reason
        failEverything(RaftShellError(code, reason))
    }

    func failEverything(_ error: RaftShellError) {
        let pending = proposals.values.map(\.request) + reads.values + readsAwaitingApply.map(\.request)
        proposals = [:]
        reads = [:]
        readsAwaitingApply = []
        for request in pending { request.resume(throwing: error) }
        let waiting = transfers
        transfers = []
        for transfer in waiting { transfer.request.resume(throwing: error) }
    }

    /// Fails the proposals this node made as a leader it no longer is (it stepped down, or leads
    /// again in a newer term): nothing on this node would answer them, since the entries commit,
    /// if ever, under another leader whose progress this node may never see.
    func failProposalsOfLostLeadership() {
        let leading: UInt64? = node.role == .leader ? node.term : nil
        let lost = proposals.filter { $0.value.term != leading }.keys.sorted()
        guard !lost.isEmpty else { return }
        let now = leading.map { "leads term \($0) afresh" } ?? "is \(node.role) in term \(node.term)"
        for index in lost {
            guard let pending = proposals.removeValue(forKey: index) else { continue }
            pending.request.resume(throwing: RaftShellError(
                .leadershipLost,
                "\(node.id) stopped leading before entry \(index) of term \(pending.term) committed (it \(now)); "
                    + "a later leader may still commit it, so check before retrying",
                leader: node.leader))
        }
        logger.info("failed \(lost.count) pending proposal(s): leadership of their term was lost")
    }

    func failProposals(through index: UInt64) {
        for key in proposals.keys.sorted() where key <= index {
            proposals.removeValue(forKey: key)?.request.resume(throwing: RaftShellError(
                .outcomeUnknown, "a snapshot through index \(index) replaced the log around entry \(key)", leader: node.leader))
        }
    }
}

