import DiscoCore
import DiscoRaft

// MARK: - Options and result

/// What a simulation run exercises.
public enum RaftScenario: String, Sendable, Hashable, CaseIterable {
    /// Crashes, restarts, partitions, loss, leadership transfers, reads and occasional membership
    /// changes in a group of 3 or 5 voters.
    case chaos
    /// The same faults around nodes joining a group of 1 or 3 voters: joiners that never start,
    /// crash while catching up or after it, learners promoted once caught up (and careless
    /// promotions the core must refuse), learners reaped and voters removed.
    case joins
}

/// How one simulation seed runs.
public struct RaftSimulationOptions: Sendable {
    public var seed: UInt64
    public var scenario: RaftScenario = .chaos
    /// How long faults are injected before the network heals and every node restarts.
    public var chaosDuration: Duration = .seconds(8)
    /// After healing, a leader must exist and a new proposal must commit within this bound.
    public var livenessBound: Duration = .seconds(30)
    /// Number of trace events kept for a violation report.
    public var traceLimit = 120
    /// Fault injection for testing the checker: a crash also loses some synced writes (a disk that
    /// lies about fsync). Runs with this set are expected to report violations.
    public var lyingDisk = false
    /// Fault injection for testing the checker: the core promotes learners whether or not they
    /// caught up. Runs of the `joins` scenario with this set are expected to report phantom voters.
    public var promoteRegardless = false

    public init(seed: UInt64, chaosDuration: Duration = .seconds(8), scenario: RaftScenario = .chaos) {
        self.seed = seed
        self.chaosDuration = chaosDuration
        self.scenario = scenario
    }
}

/// What a seed did.
public struct RaftSimulationResult: Sendable {
    public var seed: UInt64
    public var violations: [String]
    /// The last events before the end of the run (or the first violation).
    public var trace: [String]
    /// A hash of every event: equal for two runs of the same seed.
    public var traceHash: UInt64
    public var events: Int
    public var committedEntries: UInt64
    public var leaderTerms: Int
    public var virtualTime: Duration
}

// MARK: - RaftSimulation

/// Runs real ``RaftNode`` cores with in-memory storage (real entry encoding) over a simulated
/// network and virtual time, injecting faults drawn from one seed, and checks invariants after
/// every step.
public struct RaftSimulation {
    enum Event {
        case tick(node: Int, generation: Int)
        case deliver(bytes: [UInt8], to: Int)
        case chaos
        case propose
        case heal
        case livenessProbe
        case restart(node: Int, generation: Int)
        case healPartition(number: Int)
        /// A joiner that dies while catching up.
        case crash(node: Int, generation: Int)
        /// The joins scenario's membership activity (``joinStep()``).
        case membership
    }

    struct SimNode {
        let id: NodeID
        var core: RaftNode?
        var storage = InMemoryRaftStorage()
        var started = false
        var generation = 0
        var tickInterval: Duration
        var appliedIndex: UInt64 = 0
        var stateHash: UInt64 = 0
        var synced: (index: UInt64, term: UInt64, hard: HardState)?
        /// The removal this node last reported (see ``checkMembership(_:core:)``).
        var reportedRemoval: Removal?
    }

    let options: RaftSimulationOptions
    var random: DeterministicRandom
    var coreOptions = RaftOptions()
    var queue = EventQueue<Event>()
    var now: Duration = .zero
    var network = SimulatedNetwork<Int>(faults: NetworkFaults(minDelay: .milliseconds(1), maxDelay: .milliseconds(10)))
    var nodes: [SimNode] = []
    var checker = RaftInvariantChecker()
    var trace: SimulationTrace
    var healed = false
    var healTime: Duration = .zero
    var livenessDone = false
    var livenessMarkerSent: Duration?
    var nextPayload: UInt64 = 1
    var nextReadContext: UInt64 = 1
    var readsAsked: [UInt64: UInt64] = [:]
    var leaderTerms = 0
    var partitionNumber = 0

    public init(options: RaftSimulationOptions) {
        self.options = options
        random = DeterministicRandom(seed: options.seed)
        trace = SimulationTrace(limit: options.traceLimit)
    }

    /// Runs the seed to the end and reports what happened.
    public static func run(_ options: RaftSimulationOptions) -> RaftSimulationResult {
        var simulation = RaftSimulation(options: options)
        return simulation.run()
    }

    var names: [String] { nodes.map(\.id.rawValue) }

    mutating func run() -> RaftSimulationResult {
        setUp()
        let deadline = options.chaosDuration + options.livenessBound
        while checker.violations.isEmpty, !livenessDone, let (time, event) = queue.pop() {
            now = time
            if now > deadline { break }
            handle(event)
        }
        if checker.violations.isEmpty, !livenessDone {
            checker.fail("liveness: \(options.livenessBound) after the faults healed there is no leader that commits a new proposal")
        }
        return RaftSimulationResult(
            seed: options.seed, violations: checker.violations, trace: trace.lines(names: names),
            traceHash: trace.hash, events: trace.count, committedEntries: checker.appliedCount,
            leaderTerms: leaderTerms, virtualTime: now)
    }

    private mutating func setUp() {
        let joins = options.scenario == .joins
        let voterCount = joins ? (Bool.random(using: &random) ? 1 : 3) : (Bool.random(using: &random) ? 3 : 5)
        let poolSize = joins ? 7 : 5
        coreOptions.requiresCaughtUpLearners = !options.promoteRegardless
        coreOptions.snapshotThreshold = Int.random(in: 4...40, using: &random)
        coreOptions.maxEntriesPerAppend = Int.random(in: 1...16, using: &random)
        coreOptions.maxInflightAppends = Int.random(in: 1...8, using: &random)
        // Mostly the defaults, sometimes without pre-vote or check-quorum: safety must not depend on them.
        coreOptions.preVote = Int.random(in: 0..<8, using: &random) != 0
        coreOptions.checkQuorum = Int.random(in: 0..<8, using: &random) != 0
        coreOptions.electionTicks = Int.random(in: 0..<4, using: &random) == 0 ? 10 : 5
        if joins {
            // As the node runs: without pre-vote, stale candidates keep resetting the one voter
            // that could win after a leader that removed itself crashed (a liveness limit of Raft
            // without pre-vote, which the chaos scenario's safety checks already cover).
            coreOptions.preVote = true
            coreOptions.checkQuorum = true
        }
        for position in 0..<poolSize {
            let skew = Double.random(in: 0.8...1.25, using: &random)
            let id = NodeID("n\(position + 1)") ?? "n"
            nodes.append(SimNode(id: id, tickInterval: .milliseconds(Int(100 * skew))))
        }
        let voters = (0..<voterCount).map { nodes[$0].id }
        for position in 0..<voterCount {
            nodes[position].started = true
            do {
                try nodes[position].storage.initialize(with: PersistentState.bootstrap(voters: voters))
            } catch {
                checker.fail("bootstrap storage failed: \(error)")
            }
            checker.acknowledged(nodes[position].id)
            start(position)
        }
        queue.schedule(.chaos, at: .milliseconds(Int.random(in: 200...600, using: &random)))
        queue.schedule(.propose, at: .milliseconds(300))
        queue.schedule(.heal, at: options.chaosDuration)
        if joins { queue.schedule(.membership, at: .milliseconds(Int.random(in: 100...400, using: &random))) }
    }

    // MARK: Node lifecycle

    /// Starts (or restarts) a node from its storage.
    mutating func start(_ position: Int) {
        nodes[position].storage.truncateTornTail()
        let recovered: (state: PersistentState, snapshot: Snapshot?)
        do {
            recovered = try nodes[position].storage.load()
        } catch {
            checker.fail("recovery of \(names[position]) failed: \(error)")
            return
        }
        let state = recovered.state
        if let synced = nodes[position].synced {
            let last = state.entries.last.map { ($0.index, $0.term) } ?? (state.snapshot?.index ?? 0, state.snapshot?.term ?? 0)
            let coversSynced = last.0 == synced.index && last.1 == synced.term
                || (state.snapshot.map { $0.index >= synced.index } ?? false)
            if !coversSynced || state.hardState.term < synced.hard.term
                || (state.hardState.term == synced.hard.term && state.hardState.vote != synced.hard.vote) {
                checker.fail("durability: \(names[position]) recovered last=\(last.0)@\(last.1) term=\(state.hardState.term), but had synced last=\(synced.index)@\(synced.term) term=\(synced.hard.term)")
            }
        }
        var appliedIndex: UInt64 = 0
        var stateHash: UInt64 = 0
        if let snapshot = recovered.snapshot {
            (appliedIndex, stateHash) = Self.decodeState(snapshot.data)
        }
        do {
            nodes[position].core = try RaftNode(id: nodes[position].id, options: coreOptions, state: state,
                                                random: random.fork())
        } catch {
            checker.fail("\(names[position]) cannot start: \(error)")
            return
        }
        nodes[position].started = true
        nodes[position].appliedIndex = appliedIndex
        nodes[position].stateHash = stateHash
        nodes[position].generation += 1
        let generation = nodes[position].generation
        let offset = Duration.milliseconds(Int.random(in: 0..<100, using: &random))
        queue.schedule(.tick(node: position, generation: generation), at: now + offset)
    }

    mutating func crash(_ position: Int, duringWrite: Bool, tornBytes: Int? = nil) {
        nodes[position].storage.crash(tornBytes: tornBytes)
        if options.lyingDisk { nodes[position].storage.loseSyncedRecords(Int.random(in: 1...6, using: &random)) }
        nodes[position].core = nil
        trace.record(.crash(node: position, duringWrite: duringWrite), at: now)
        let downtime = Duration.milliseconds(Int.random(in: 100...3000, using: &random))
        queue.schedule(.restart(node: position, generation: nodes[position].generation), at: now + downtime)
    }

    // MARK: Events

    private mutating func handle(_ event: Event) {
        switch event {
        case .tick(let position, let generation):
            guard nodes[position].generation == generation, nodes[position].core != nil else { return }
            trace.record(.tick(node: position), at: now)
            withCore(position) { $0.tick() }
            queue.schedule(.tick(node: position, generation: generation), at: now + nodes[position].tickInterval)
        case .deliver(let bytes, let position):
            guard nodes[position].core != nil else { return }
            let message: Message
            do {
                message = try RaftCodec.decodeMessage(bytes)
            } catch {
                checker.fail("codec: a message we encoded does not decode: \(error)")
                return
            }
            trace.record(.deliver(node: position, message: message), at: now, bytes: bytes)
            withCore(position) { $0.receive(message) }
        case .chaos:
            guard !healed else { return }
            injectFault()
            if !healed {
                queue.schedule(.chaos, at: now + .milliseconds(Int.random(in: 100...700, using: &random)))
            }
        case .propose:
            guard !healed else { return }
            proposeFromClient()
            if !healed {
                queue.schedule(.propose, at: now + .milliseconds(Int.random(in: 20...150, using: &random)))
            }
        case .heal:
            healEverything()
        case .restart(let position, let generation):
            guard !healed, nodes[position].core == nil, nodes[position].generation == generation else { return }
            start(position)
            trace.record(.restart(node: position, lastIndex: nodes[position].core?.lastIndex ?? 0,
                                  term: nodes[position].core?.term ?? 0), at: now)
        case .healPartition(let number):
            guard !healed, number == partitionNumber else { return }
            network.heal()
            trace.record(.fault("partition \(number) heals"), at: now)
        case .livenessProbe:
            probeLiveness()
            if !livenessDone { queue.schedule(.livenessProbe, at: now + .milliseconds(100)) }
        case .membership:
            guard !healed else { return }
            joinStep()
            queue.schedule(.membership, at: now + .milliseconds(Int.random(in: 50...300, using: &random)))
        case .crash(let position, let generation):
            guard !healed, nodes[position].core != nil, nodes[position].generation == generation else { return }
            crash(position, duringWrite: false)
        }
    }

    /// Gives an input to a node's core and then handles every Ready it produces.
    @discardableResult
    mutating func withCore<Result>(_ position: Int, _ input: (inout RaftNode) -> Result) -> Result? {
        guard var core = nodes[position].core else { return nil }
        nodes[position].core = nil
        let result = input(&core)
        nodes[position].core = core
        drain(position)
        return result
    }

    static func encodeState(index: UInt64, hash: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        for value in [index, hash] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return bytes
    }

    static func decodeState(_ bytes: [UInt8]) -> (UInt64, UInt64) {
        guard bytes.count == 16 else { return (0, 0) }
        let index = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let hash = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return (index, hash)
    }
}
