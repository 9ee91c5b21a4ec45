import Bootstrap
import DiscoCore

// MARK: - BootstrapSimulation

/// Runs N bootstrap engines from one seed over a lossy, delaying network in virtual time, and
/// checks after every event that formation stays safe: no node in two clusters, at most one
/// initial configuration, exactly `expect` voters in it, and Raft traffic only reaching nodes
/// promised to that configuration. At the end, every node must have finished in that cluster.
public struct BootstrapSimulation {
    public struct Options: Sendable {
        public var nodes = 3
        public var expect = 3
        public var nonVoters = 0
        public var lossRate = 0.0
        /// The last this many nodes discover only themselves (a `-join` list of dead addresses):
        /// they hear of the others only from the others' notifies. They start first.
        public var blindNodes = 0
        public var minDelay: Duration = .milliseconds(1)
        public var maxDelay: Duration = .milliseconds(30)
        /// Nodes start at random times in `0...startSpread`.
        public var startSpread: Duration = .seconds(1)
        /// Per-request timeout the shell applies (answers `nil` after it).
        public var requestTimeout: Duration = .milliseconds(300)
        /// Every node must have finished by then.
        public var deadline: Duration = .seconds(120)

        public init() {}
    }

    enum Event {
        case start(Int)
        case round(Int)
        case lookupDone(Int)
        case joinDone(Int, joinedCluster: String?)
        case notifyArrives(from: Int, to: Int, NotifyRequest, sentAt: Duration, replyLost: Bool)
        case notifyAnswer(to: Int, target: PeerAddress, NotifyReply?)
        case proposalArrives(from: Int, to: Int, Proposal, sentAt: Duration, replyLost: Bool)
        case proposalAnswer(to: Int, from: NodeID, ProposalID, ProposalReply?)
        case abandonArrives(to: Int, ProposalID)
        case statusArrives(from: Int, to: Int, ProposalID, replyLost: Bool)
        case statusAnswer(to: Int, ProposalID, ProposalStatus?)
        case raftContact(to: Int, cluster: String)
    }

    struct Node {
        var engine: BootstrapEngine
        var peer: BootstrapPeer
        var started = false
        var cluster: String?
        var persistedPromise: Proposal?
    }

    public let seed: UInt64
    public let options: Options
    var random: DeterministicRandom
    var queue = EventQueue<Event>()
    var nodes: [Node] = []
    var now: Duration = .zero
    /// Bootstrapped clusters: name (proposal ID) → voters.
    var clusters: [String: [BootstrapPeer]] = [:]
    public private(set) var trace: [String] = []
    public private(set) var violations: [String] = []

    public init(seed: UInt64, options: Options) {
        self.seed = seed
        self.options = options
        self.random = DeterministicRandom(seed: seed)
        let addresses = (0..<options.nodes).map { PeerAddress(host: "10.0.0.\($0 + 1)", port: 4001) }
        for index in 0..<options.nodes {
            // IDs in a shuffled order so the smallest ID is not always the first node started.
            let peer = BootstrapPeer(id: NodeID("node-\(random.next() % 900 + 100)-\(index)") ?? "unnamed",
                                     raftAddress: "10.0.0.\(index + 1):4002", apiAddress: addresses[index].description,
                                     voter: index >= options.nonVoters)
            var settings = BootstrapEngine.Settings(me: peer, cluster: "disco", expect: options.expect,
                                                    selfAddresses: [addresses[index]])
            settings.timeout = nil
            nodes.append(Node(engine: BootstrapEngine(settings: settings, seed: random.next()), peer: peer))
            let spread = Int64.random(in: 0...options.startSpread.nanoseconds, using: &random)
            // Blind nodes start first: one started after the others formed the cluster would
            // have nobody to hear of, and nothing could ever tell it where the cluster is.
            queue.schedule(.start(index), at: index >= options.nodes - options.blindNodes ? .zero : .nanoseconds(spread))
        }
        self.targets = addresses
    }

    let targets: [PeerAddress]

    /// Runs to the deadline; returns the violations found (empty when the run is correct).
    public mutating func run() -> [String] {
        while violations.isEmpty, let (time, event) = queue.pop(), time <= options.deadline {
            now = time
            handle(event)
            checkSafety()
        }
        if violations.isEmpty { checkLiveness() }
        return violations
    }

    /// A digest of the whole run, to prove that a seed replays identically.
    public var traceDigest: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for line in trace { for byte in line.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 } }
        return hash
    }

    // MARK: Network

    mutating func delay() -> Duration {
        .nanoseconds(Int64.random(in: options.minDelay.nanoseconds...options.maxDelay.nanoseconds, using: &random))
    }

    mutating func lost() -> Bool { options.lossRate > 0 && Double.random(in: 0..<1, using: &random) < options.lossRate }

    func index(of address: PeerAddress) -> Int? { targets.firstIndex(of: address.withoutScheme) }

    func index(of id: NodeID) -> Int? { nodes.firstIndex { $0.peer.id == id } }

    // MARK: Events

    mutating func handle(_ event: Event) {
        switch event {
        case .start(let node):
            nodes[node].started = true
            apply(node, nodes[node].engine.start(now: now))
        case .round(let node):
            apply(node, nodes[node].engine.roundTimerFired(now: now))
        case .lookupDone(let node):
            let found = node >= options.nodes - options.blindNodes ? [targets[node]] : targets
            apply(node, nodes[node].engine.lookupCompleted(.success(found), now: now))
        case .joinDone(let node, let cluster):
            if let cluster { join(node, cluster: cluster) }
            apply(node, nodes[node].engine.joinCompleted(cluster == nil ? .noCluster : .joined, now: now))
        case .notifyArrives(let from, let to, let request, let sentAt, let replyLost):
            guard nodes[to].started else { return answerNotifyLater(from, to, sentAt: sentAt, nil) }
            let (reply, effects) = nodes[to].engine.handleNotify(request, now: now)
            apply(to, effects)
            answerNotifyLater(from, to, sentAt: sentAt, replyLost ? nil : reply)
        case .notifyAnswer(let node, let target, let reply):
            apply(node, nodes[node].engine.notifyAnswered(target: target, reply: reply, now: now))
        case .proposalArrives(let from, let to, let proposal, let sentAt, let replyLost):
            var reply: ProposalReply?
            if nodes[to].started {
                let (answer, effects) = nodes[to].engine.handleProposal(proposal, now: now)
                apply(to, effects)  // persistence happens before the reply leaves
                reply = replyLost ? nil : answer
            }
            let arrival = reply == nil ? sentAt + options.requestTimeout : now + delay()
            queue.schedule(.proposalAnswer(to: from, from: nodes[to].peer.id, proposal.id, reply), at: arrival)
        case .proposalAnswer(let node, let from, let id, let reply):
            apply(node, nodes[node].engine.proposalAnswered(from: from, id: id, reply: reply, now: now))
        case .abandonArrives(let node, let id):
            if nodes[node].started { apply(node, nodes[node].engine.handleAbandon(id, now: now)) }
        case .statusArrives(let from, let to, let id, let replyLost):
            let status: ProposalStatus? = nodes[to].started && !replyLost ? nodes[to].engine.status(of: id) : nil
            queue.schedule(.statusAnswer(to: from, id, status), at: now + (status == nil ? options.requestTimeout : delay()))
        case .statusAnswer(let node, let id, let status):
            apply(node, nodes[node].engine.statusAnswered(id, status: status, now: now))
        case .raftContact(let node, let cluster):
            if nodes[node].cluster == nil {
                guard nodes[node].persistedPromise.map({ "\($0.id)" }) == cluster else {
                    violations.append("node \(nodes[node].peer.id) received Raft traffic for \(cluster) without being promised to it "
                        + "(promise: \(nodes[node].persistedPromise.map { "\($0.id)" } ?? "none"))")
                    return
                }
                join(node, cluster: cluster)
            }
            apply(node, nodes[node].engine.clusterFormed(now: now))
        }
    }

    mutating func answerNotifyLater(_ from: Int, _ to: Int, sentAt: Duration, _ reply: NotifyReply?) {
        let arrival = reply == nil ? sentAt + options.requestTimeout : now + delay()
        queue.schedule(.notifyAnswer(to: from, target: targets[to], reply), at: arrival)
    }

    mutating func join(_ node: Int, cluster: String) {
        if let existing = nodes[node].cluster, existing != cluster {
            violations.append("node \(nodes[node].peer.id) is in two clusters: \(existing) and \(cluster)")
        }
        nodes[node].cluster = cluster
    }

    // MARK: Effects

    mutating func apply(_ node: Int, _ effects: [BootstrapEffect]) {
        for effect in effects {
            trace.append("\(now) \(nodes[node].peer.id): \(effect)")
            switch effect {
            case .lookup:
                queue.schedule(.lookupDone(node), at: now + delay())
            case .join(let addresses):
                // Joining succeeds through any reachable target that is in a cluster.
                let reachable = addresses.compactMap { index(of: $0) }.filter { !lost() && nodes[$0].cluster != nil }
                queue.schedule(.joinDone(node, joinedCluster: reachable.first.flatMap { nodes[$0].cluster }), at: now + delay() + delay())
            case .notify(let addresses, let request):
                for address in addresses {
                    guard let target = index(of: address), !lost() else {
                        queue.schedule(.notifyAnswer(to: node, target: address, nil), at: now + options.requestTimeout)
                        continue
                    }
                    queue.schedule(.notifyArrives(from: node, to: target, request, sentAt: now, replyLost: lost()), at: now + delay())
                }
            case .propose(let proposal, let peers):
                for peer in peers {
                    guard let target = index(of: peer.id) else { continue }
                    if lost() {
                        queue.schedule(.proposalAnswer(to: node, from: peer.id, proposal.id, nil), at: now + options.requestTimeout)
                    } else {
                        queue.schedule(.proposalArrives(from: node, to: target, proposal, sentAt: now, replyLost: lost()), at: now + delay())
                    }
                }
            case .abandon(let id, let peers):
                for peer in peers { if let target = index(of: peer.id), !lost() { queue.schedule(.abandonArrives(to: target, id), at: now + delay()) } }
            case .askStatus(let id, let proposer):
                if let target = index(of: proposer.id), !lost() {
                    queue.schedule(.statusArrives(from: node, to: target, id, replyLost: lost()), at: now + delay())
                } else {
                    queue.schedule(.statusAnswer(to: node, id, nil), at: now + options.requestTimeout)
                }
            case .persistPromise(let proposal):
                nodes[node].persistedPromise = proposal
            case .bootstrap(let voters):
                bootstrap(node, voters: voters)
            case .scheduleRound(let after):
                queue.schedule(.round(node), at: now + after)
            case .log, .finished:
                break
            }
        }
    }

    mutating func bootstrap(_ node: Int, voters: [BootstrapPeer]) {
        guard let promise = nodes[node].persistedPromise else {
            violations.append("node \(nodes[node].peer.id) bootstrapped without a persisted proposal")
            return
        }
        let name = "\(promise.id)"
        clusters[name] = voters
        join(node, cluster: name)
        // Raft elects the bootstrapper and replicates the configuration: contact every voter,
        // retrying through loss.
        for voter in voters where voter.id != nodes[node].peer.id {
            guard let target = index(of: voter.id) else { continue }
            var at = now
            repeat { at += .milliseconds(100) + delay() } while lost()
            queue.schedule(.raftContact(to: target, cluster: name), at: at + .milliseconds(500))
        }
    }

    // MARK: Invariants

    mutating func checkSafety() {
        if clusters.count > 1 {
            violations.append("\(clusters.count) clusters were bootstrapped: \(clusters.keys.sorted())")
        }
        for (name, voters) in clusters {
            if voters.count != options.expect || Set(voters.map(\.id)).count != voters.count {
                violations.append("cluster \(name) was bootstrapped with \(voters.count) voters, expected \(options.expect) distinct")
            }
        }
    }

    mutating func checkLiveness() {
        guard let name = clusters.keys.first else {
            violations.append("no cluster formed by \(options.deadline)")
            return
        }
        for node in nodes where node.cluster != name || node.engine.outcome == nil {
            violations.append("node \(node.peer.id) did not finish in cluster \(name) by \(options.deadline) "
                + "(cluster: \(node.cluster ?? "none"), promise: \(node.persistedPromise.map { "\($0.id)" } ?? "none"))")
        }
    }
}
