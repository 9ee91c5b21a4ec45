import DiscoCore

// MARK: - BootstrapEffect

/// What the engine asks its shell to do. Each asynchronous effect is answered by calling the
/// matching input method.
public enum BootstrapEffect: Hashable, Sendable {
    /// Run one discovery round; answer with ``BootstrapEngine/lookupCompleted(_:now:)``.
    case lookup
    /// Try `POST /join` on each target in order (following leader redirects, at most 10);
    /// answer with ``BootstrapEngine/joinCompleted(_:now:)``.
    case join([PeerAddress])
    /// Send the notify to every target in parallel, each with a short timeout; answer each with
    /// ``BootstrapEngine/notifyAnswered(target:reply:now:)`` (`nil` for no answer).
    case notify([PeerAddress], NotifyRequest)
    /// Send the proposal to each peer; answer each with ``BootstrapEngine/proposalAnswered(from:reply:now:)``.
    case propose(Proposal, to: [BootstrapPeer])
    /// Tell these peers the proposal is abandoned (best effort; they also ask).
    case abandon(ProposalID, to: [BootstrapPeer])
    /// Ask the proposer what became of its proposal; answer with ``BootstrapEngine/statusAnswered(_:status:now:)``.
    case askStatus(ProposalID, proposer: BootstrapPeer)
    /// Durably record the promise (or its release, `nil`) before anything that follows is sent.
    case persistPromise(Proposal?)
    /// Create the Raft cluster with exactly these voters.
    case bootstrap(voters: [BootstrapPeer])
    /// Call ``BootstrapEngine/roundTimerFired(now:)`` after this long.
    case scheduleRound(after: Duration)
    /// Progress worth logging.
    case log(String)
    /// Formation is over for this node.
    case finished(BootstrapEngine.Outcome)
}

// MARK: - BootstrapEngine

/// Cluster formation for `-bootstrap-expect` as a pure state machine (no clock, no sockets).
///
/// Each round a node looks up its targets, tries to join an existing cluster, and, failing that
/// (voters only), notifies every target. Nodes learn of each other from notifies and their
/// answers. When a voter knows `expect` voters and has the smallest ID among them, it proposes
/// the `expect` smallest as the initial voters; each of them promises itself to at most one
/// proposal, durably, until the proposer releases it. The proposer bootstraps only when every
/// proposed voter promised. So two initial configurations can never share a node, and with
/// everyone's knowledge converging on the same smallest ID, exactly one cluster forms; late and
/// surplus nodes join it.
public struct BootstrapEngine: Sendable {
    /// Why formation ended.
    public enum Outcome: Hashable, Sendable {
        case joined
        case bootstrapped
        /// Raft reported this node part of a cluster (another node bootstrapped it in).
        case clustered
        /// The node already had cluster state when it started.
        case existingState
        case timedOut
    }

    public struct Settings: Sendable {
        public var me: BootstrapPeer
        public var cluster: String
        public var expect: Int
        /// Addresses that are this node (bind and advertised API addresses), filtered from targets.
        public var selfAddresses: Set<PeerAddress>
        /// First retry interval; grows by half each quiet round up to ``maxInterval``, jittered.
        public var baseInterval: Duration = .milliseconds(200)
        public var maxInterval: Duration = .seconds(2)
        /// Rounds a voter heard first-hand stays counted without being heard again.
        public var freshRounds = 5
        /// Rounds to wait for silent targets once `expect` voters are known, before proposing
        /// without them (a target that never answers may simply be down).
        public var graceRounds = 5
        /// Give up (fresh nodes only) when formation has not finished by then; `nil` waits forever.
        public var timeout: Duration?

        public init(me: BootstrapPeer, cluster: String, expect: Int, selfAddresses: Set<PeerAddress> = []) {
            self.me = me
            self.cluster = cluster
            self.expect = expect
            self.selfAddresses = selfAddresses
        }
    }

    package enum Phase: Hashable, Sendable {
        case seeking
        case proposing(Proposal, accepted: Set<NodeID>, awaiting: Set<NodeID>)
        case promised(Proposal)
        case finished(Outcome)
    }

    struct Known: Hashable, Sendable {
        var peer: BootstrapPeer
        var heardRound: Int
    }

    public let settings: Settings
    package var phase: Phase = .seeking
    var random: DeterministicRandom
    package var round = 0
    var interval: Duration
    var targets: [PeerAddress] = []
    var targetsHeard: Set<PeerAddress> = []
    var awaitingNotifies: Set<PeerAddress> = []
    var known: [NodeID: Known] = [:]
    var roundsWithQuorum = 0
    var completedRounds = 0
    var nextSequence: UInt64 = 1
    var bootstrappedProposal: ProposalID?
    var startedAt: Duration?
    /// Set when formation timed out while promised: the promise kept on disk, and where its
    /// proposer was last asked.
    public internal(set) var unresolvedPromise: UnresolvedPromise?

    /// - Parameters:
    ///   - promise: a promise persisted before a restart, still binding.
    ///   - hasClusterState: the node already has Raft state: formation is skipped.
    public init(settings: Settings, seed: UInt64, promise: Proposal? = nil, hasClusterState: Bool = false) {
        self.settings = settings
        self.random = DeterministicRandom(seed: seed)
        self.interval = settings.baseInterval
        if hasClusterState {
            phase = .finished(.existingState)
            if promise?.id.proposer == settings.me.id { bootstrappedProposal = promise?.id }
        } else if let promise {
            phase = promise.id.proposer == settings.me.id ? .seeking : .promised(promise)
        }
        // The largest sequence (a promise file written before proposals in this node's name were
        // refused) has no successor: start again at 1 rather than trap.
        if let promise, promise.id.proposer == settings.me.id, promise.id.sequence < .max { nextSequence = promise.id.sequence + 1 }
    }

    /// Whether formation is over, and how.
    public var outcome: Outcome? {
        if case .finished(let outcome) = phase { return outcome }
        return nil
    }

    /// The proposal this node is promised to, if any.
    public var promise: Proposal? {
        switch phase {
        case .promised(let proposal), .proposing(let proposal, _, _): return proposal
        default: return nil
        }
    }

    // MARK: Rounds

    /// Starts formation: the first round runs at once.
    public mutating func start(now: Duration) -> [BootstrapEffect] {
        startedAt = now
        if let outcome { return [.finished(outcome)] }
        return beginRound(now: now)
    }

    public mutating func roundTimerFired(now: Duration) -> [BootstrapEffect] {
        guard outcome == nil else { return [] }
        if let timeout = settings.timeout, let startedAt, now - startedAt >= timeout { return timeOut(timeout) }
        return beginRound(now: now)
    }

    mutating func beginRound(now: Duration) -> [BootstrapEffect] {
        round += 1
        if case .promised(let proposal) = phase {
            // A promised node must not join elsewhere: it waits for its proposer's verdict.
            return [.askStatus(proposal.id, proposer: proposer(of: proposal)), .scheduleRound(after: nextInterval())]
        }
        return [.lookup]
    }

    public mutating func lookupCompleted(_ result: Result<[PeerAddress], DiscoveryLookupFailure>, now: Duration) -> [BootstrapEffect] {
        guard outcome == nil else { return [] }
        // Promised while the lookup was in flight: keep the rounds going, they ask for the verdict.
        guard !isPromised else { return [.scheduleRound(after: nextInterval())] }
        switch result {
        case .failure(let failure):
            return [.log("bootstrap: discovery failed: \(failure.message) (will retry)"), .scheduleRound(after: nextInterval())]
        case .success(let found):
            // The peers heard of count as targets too, at their latest addresses: a node whose
            // discovery names only stale addresses (its -join list from before a peer moved) would
            // otherwise, once its promise is released, reach nobody, and a cluster formed without
            // it never notifies it (finished nodes do not notify), so it would never join.
            let found = Set(found.map(\.withoutScheme)).union(knownAddresses())
            targets = Array(found.subtracting(settings.selfAddresses.map(\.withoutScheme))).sorted()
            if targets.isEmpty {
                // Nobody else to notify: the round is complete as it is (with -bootstrap-expect 1
                // and only this node discovered, no notify round would ever complete).
                completedRounds += 1
                if freshVoters().count >= settings.expect { roundsWithQuorum += 1 }
                var effects = considerProposing()
                if outcome == nil { effects.append(.scheduleRound(after: nextInterval())) }
                return effects
            }
            return [.join(targets)]
        }
    }

    public mutating func joinCompleted(_ result: JoinOutcome, now: Duration) -> [BootstrapEffect] {
        guard outcome == nil else { return [] }
        if result == .joined {
            // A proposal of ours still open is given up, and so is its record: a proposer's own
            // proposal on disk beside Raft state means it bootstrapped that proposal.
            var effects: [BootstrapEffect] = []
            if case .proposing(let mine, let accepted, _) = phase {
                effects = [.abandon(mine.id, to: mine.voters.filter { accepted.contains($0.id) }), .persistPromise(nil)]
            }
            return effects + finish(.joined, log: "bootstrap: joined the existing cluster")
        }
        guard !isPromised else { return [.scheduleRound(after: nextInterval())] }
        guard settings.me.voter else {
            return [.log("bootstrap: no cluster to join yet (non-voters only join)"), .scheduleRound(after: nextInterval())]
        }
        awaitingNotifies = Set(targets)
        let request = NotifyRequest(sender: settings.me, cluster: settings.cluster, expect: settings.expect, known: freshVoters())
        return [.notify(targets, request)]
    }

    public mutating func notifyAnswered(target: PeerAddress, reply: NotifyReply?, now: Duration) -> [BootstrapEffect] {
        var effects: [BootstrapEffect] = []
        switch reply {
        case .forming(let responder, let theirs)?:
            targetsHeard.insert(target.withoutScheme)
            learn(responder, firstHand: true)
            theirs.forEach { learn($0, firstHand: false) }
        case .clustered?:
            targetsHeard.insert(target.withoutScheme)
            interval = settings.baseInterval
        case .mismatch?:
            // The shell warns about it (a configuration problem), repeating while it lasts.
            targetsHeard.insert(target.withoutScheme)
        case nil:
            break
        }
        guard outcome == nil, awaitingNotifies.remove(target) != nil, awaitingNotifies.isEmpty else { return effects }
        // The round is complete.
        let voters = freshVoters()
        effects.append(.log("bootstrap: \(voters.count)/\(settings.expect) peers notified: [\(voters.map(\.description).joined(separator: ", "))]"))
        completedRounds += 1
        if voters.count >= settings.expect { roundsWithQuorum += 1 }
        effects += considerProposing()
        if outcome == nil { effects.append(.scheduleRound(after: nextInterval())) }
        return effects
    }

    /// Raft reports that this node belongs to a cluster (it has a leader or a configuration).
    public mutating func clusterFormed(now: Duration) -> [BootstrapEffect] {
        guard outcome == nil else { return [] }
        if case .proposing = phase { return [] }
        return finish(.clustered, log: "bootstrap: part of the cluster")
    }

    var isPromised: Bool {
        if case .promised = phase { return true }
        return false
    }

    mutating func finish(_ result: Outcome, log message: String) -> [BootstrapEffect] {
        phase = .finished(result)
        return [.log(message), .finished(result)]
    }

    /// The next round's delay: jittered in [interval, 1.5·interval), growing by half up to the maximum.
    mutating func nextInterval() -> Duration {
        let current = interval
        interval = min(settings.maxInterval, interval * 3 / 2)
        let jitter = Double.random(in: 0..<0.5, using: &random)
        return current + current * jitter
    }

    // MARK: Knowledge

    mutating func learn(_ peer: BootstrapPeer, firstHand: Bool) {
        guard peer.id != settings.me.id else { return }
        if firstHand {
            known[peer.id] = Known(peer: peer, heardRound: round)
        } else if known[peer.id] == nil {
            // Second-hand news counts briefly, until heard first-hand.
            known[peer.id] = Known(peer: peer, heardRound: round - settings.freshRounds + 1)
        }
    }

    /// The API addresses of every peer this node has heard of (voters and not), each as last heard (an address
    /// that does not parse is skipped; the peer is still counted by ID).
    func knownAddresses() -> [PeerAddress] {
        known.values.compactMap { try? PeerAddress(parsing: $0.peer.apiAddress).withoutScheme }
    }

    /// Voters heard from recently, this node included, sorted by ID.
    package func freshVoters() -> [BootstrapPeer] {
        var voters = known.values.filter { $0.peer.voter && round - $0.heardRound < settings.freshRounds }.map(\.peer)
        if settings.me.voter { voters.append(settings.me) }
        return voters.sorted { $0.id < $1.id }
    }
}

/// Why a discovery round found nothing usable.
public struct DiscoveryLookupFailure: Error, Hashable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
