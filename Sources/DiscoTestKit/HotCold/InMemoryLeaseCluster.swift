import DiscoCore
import HotCold
import LeaseCore
import Synchronization

// MARK: - InMemoryLeaseCluster

/// A replicated lease table for tests: one `LeaseTable` applied in a single linearizable order
/// (one lock, increasing indexes), a designated leader, and per-node faults — a node can be cut
/// off (its proposals go unanswered until their timeout, it hears nothing) or dead (the leader
/// sees it out of touch). Every node gets a ``InMemoryLeaseTableStore`` view with ``store(for:)``.
///
/// Delays are injectable: `commitDelay` passes between a proposal and its apply (the round trip
/// through a Raft leader), `answerDelay` between the apply and the proposer's answer. Every
/// applied command is kept in ``log`` for assertions.
public final class InMemoryLeaseCluster: Sendable {
    /// One applied command.
    public struct Entry: Hashable, Sendable {
        public let index: UInt64
        public let command: LeaseCommand
        public let result: LeaseApplyResult
        /// The node that proposed it.
        public let proposer: NodeID
    }

    struct Subscriber {
        let node: NodeID
        let group: LeaseGroup
        let continuation: AsyncStream<LeaseStoreEvent>.Continuation
    }

    struct Member {
        var reachable = true
        var alive = true
    }

    struct State {
        var table = LeaseTable()
        var index: UInt64 = 0
        var leader: NodeID?
        var members: [NodeID: Member] = [:]
        var candidacies: [LeaseGroup: [NodeID: LeaseCandidate]] = [:]
        var subscribers: [Int: Subscriber] = [:]
        var nextSubscriber = 0
        var log: [Entry] = []
        var commitDelay: Duration
        var answerDelay: Duration = .zero

        /// Yields `event(subscriber)` to every subscriber `include` picks. A subscriber whose
        /// stream has ended is dropped here, under the lock — never from the stream's termination
        /// handler, which can run while the stream holds its own lock: taking this lock there
        /// deadlocks against a yield made under this lock.
        mutating func broadcast(to include: (Subscriber) -> Bool, _ event: (Subscriber) -> LeaseStoreEvent) {
            var ended: [Int] = []
            for (id, subscriber) in subscribers where include(subscriber) {
                if case .terminated = subscriber.continuation.yield(event(subscriber)) { ended.append(id) }
            }
            for id in ended { subscribers.removeValue(forKey: id) }
        }
    }

    private let state: Mutex<State>

    /// A cluster led by `leader`, applying each proposal `commitDelay` after it was made.
    public init(leader: NodeID?, commitDelay: Duration = .milliseconds(2)) {
        state = Mutex(State(leader: leader, commitDelay: commitDelay))
    }

    /// The store as `node` sees it.
    public func store(for node: NodeID) -> InMemoryLeaseTableStore {
        state.withLock { state in
            if state.members[node] == nil { state.members[node] = Member() }
        }
        return InMemoryLeaseTableStore(cluster: self, node: node)
    }

    // MARK: Observing

    /// Every applied command, in apply order.
    public var log: [Entry] { state.withLock { $0.log } }

    /// The group's replicated state.
    public subscript(group: LeaseGroup) -> LeaseState { state.withLock { $0.table[group] } }

    /// The current leader.
    public var leader: NodeID? { state.withLock { $0.leader } }

    /// The candidacies announced for `group`, as the leader sees them.
    public func candidates(in group: LeaseGroup) -> [LeaseCandidate] { state.withLock { Self.candidates($0, group: group) } }

    // MARK: Faults and changes

    /// Makes `node` the leader (nil: an election in progress), telling every reachable node.
    public func setLeader(_ node: NodeID?) {
        state.withLock { state in
            state.leader = node
            let members = state.members
            state.broadcast(to: { members[$0.node]?.reachable ?? true }) { .leader(LeaseStoreLeader(leader: node, isSelf: node == $0.node)) }
        }
    }

    /// Cuts `node` off from the rest (false) or lets it back (true). A cut-off node's proposals
    /// are never applied; it receives nothing; the leader sees it out of touch. On return it
    /// catches up with the current state, leader and candidates.
    public func setReachable(_ node: NodeID, _ reachable: Bool) {
        state.withLock { state in
            state.members[node, default: Member()].reachable = reachable
            if reachable {
                let table = state.table
                let leader = Self.leader(state, seenBy: node)
                state.broadcast(to: { $0.node == node }) { .applied(table[$0.group], at: .now) }
                state.broadcast(to: { $0.node == node }) { _ in .leader(leader) }
            }
            Self.publishCandidates(&state)
        }
    }

    /// Marks `node` dead (crashed: the leader sees it out of touch) or alive again.
    public func setAlive(_ node: NodeID, _ alive: Bool) {
        state.withLock { state in
            state.members[node, default: Member()].alive = alive
            Self.publishCandidates(&state)
        }
    }

    /// Changes the delays of later proposals.
    public func setDelays(commit: Duration, answer: Duration = .zero) {
        state.withLock { state in
            state.commitDelay = commit
            state.answerDelay = answer
        }
    }

    // MARK: What the stores do

    func events(for group: LeaseGroup, node: NodeID) -> AsyncStream<LeaseStoreEvent> {
        let (stream, continuation) = AsyncStream<LeaseStoreEvent>.makeStream()
        // Dropped by `broadcast` once the stream has ended (no termination handler: see there).
        state.withLock { state in
            state.subscribers[state.nextSubscriber] = Subscriber(node: node, group: group, continuation: continuation)
            state.nextSubscriber += 1
            continuation.yield(.applied(state.table[group], at: .now))
            continuation.yield(.leader(Self.leader(state, seenBy: node)))
            continuation.yield(.candidates(Self.candidates(state, group: group)))
        }
        return stream
    }

    func propose(_ command: LeaseCommand, from node: NodeID, timeout: Duration) async -> LeaseProposalOutcome {
        let started = ContinuousClock.now
        let commitDelay = state.withLock { $0.commitDelay }
        if Self.reaches(state.withLock { $0 }, from: node) {
            try? await Task.sleep(for: commitDelay)
            let applied = state.withLock { state -> (LeaseApplyResult, Duration)? in
                guard Self.reaches(state, from: node) else { return nil }
                state.index += 1
                let result = state.table.apply(command, index: state.index)
                state.log.append(Entry(index: state.index, command: command, result: result, proposer: node))
                if result.changedState {
                    let now = ContinuousClock.now
                    let members = state.members
                    let applied = state.table[command.group]
                    state.broadcast(to: { $0.group == command.group && members[$0.node]?.reachable ?? true }) { _ in .applied(applied, at: now) }
                }
                return (result, state.answerDelay)
            }
            if let (result, answerDelay) = applied {
                if answerDelay > .zero { try? await Task.sleep(for: answerDelay) }
                return .applied(result)
            }
        }
        // Nobody to commit it: the proposer hears nothing until its timeout.
        try? await Task.sleep(until: started + timeout, clock: .continuous)
        return .unknown(reason: "no leader reachable from \(node)")
    }

    func announce(_ candidate: LeaseCandidate, in group: LeaseGroup) {
        state.withLock { state in
            state.candidacies[group, default: [:]][candidate.node] = candidate
            Self.publishCandidates(&state)
        }
    }

    // MARK: Helpers (under the lock)

    /// Whether `node`'s proposals reach a leader that can commit them.
    private static func reaches(_ state: State, from node: NodeID) -> Bool {
        guard let leader = state.leader, state.members[node]?.reachable ?? true, state.members[node]?.alive ?? true else { return false }
        return state.members[leader]?.reachable ?? true
    }

    private static func leader(_ state: State, seenBy node: NodeID) -> LeaseStoreLeader {
        LeaseStoreLeader(leader: state.leader, isSelf: state.leader == node)
    }

    /// The group's candidates as the leader sees them: in touch while alive and reachable.
    private static func candidates(_ state: State, group: LeaseGroup) -> [LeaseCandidate] {
        (state.candidacies[group] ?? [:]).values.sorted { $0.node < $1.node }.map { candidate in
            var seen = candidate
            let member = state.members[candidate.node] ?? Member()
            seen.inTouch = member.alive && member.reachable
            return seen
        }
    }

    private static func publishCandidates(_ state: inout State) {
        let snapshot = state
        state.broadcast(to: { snapshot.members[$0.node]?.reachable ?? true }) { .candidates(candidates(snapshot, group: $0.group)) }
    }
}

// MARK: - InMemoryLeaseTableStore

/// One node's view of an ``InMemoryLeaseCluster``.
public struct InMemoryLeaseTableStore: LeaseTableStore {
    public let cluster: InMemoryLeaseCluster
    public let node: NodeID

    public func deliverEvents(for group: LeaseGroup, to deliver: @escaping @Sendable (LeaseStoreEvent) -> Void) async {
        for await event in cluster.events(for: group, node: node) { deliver(event) }
    }

    public func propose(_ command: LeaseCommand, timeout: Duration) async -> LeaseProposalOutcome {
        await cluster.propose(command, from: node, timeout: timeout)
    }

    public func announce(_ candidate: LeaseCandidate, in group: LeaseGroup) async {
        cluster.announce(candidate, in: group)
    }
}
