import DiscoCore
import LeaseCore

// MARK: - LeaseSimulation

/// Runs the real ``LeaseHolder`` and ``LeaseGrantor`` cores of several replicas in virtual time,
/// with per-replica drifting clocks, over a model of the Raft log they share, a lossy network
/// and a fenced backend that every hot replica writes to, and checks the lease's safety after
/// every step (``LeaseInvariantChecker``).
///
/// The log model keeps what the lease's safety rests on and lets everything else go wrong:
/// only the leader commits, and only while it reaches a majority; a commit comes after the
/// proposal was sent and every apply after the commit; followers learn commits later (with the
/// next append or heartbeat) and a restarted replica replays the log from the start on a new
/// clock. Leaders fail (crash, pause, partition); a majority elects another after a randomized
/// 300–600 ms timeout; entries the old leader had not committed are dropped or committed later
/// by the new one; a deposed leader goes on believing it leads (and proposing) until it hears
/// of the new term or its check-quorum timeout passes. Answers to proposals are lost with the
/// network or the old leader.
public struct LeaseSimulation {
    enum Event {
        case holderTimer(Int, arm: UInt64)
        case grantorTimer(Int, arm: UInt64)
        case deliver(Int, Message)
        case answer(Int, generation: Int, LeaseCommand, sentAt: Duration, LeaseApplyResult?)
        case commit(Int, term: Int)
        case heartbeat
        case gossip(Int, generation: Int)
        case write(Int, generation: Int)
        case backendWrite(token: UInt64, from: Int, write: UInt64?)
        case writeAnswered(Int, generation: Int, write: UInt64)
        case drainTimeout(Int, generation: Int, token: UInt64)
        case becomeLeader(Int, term: Int)
        case fault
        case endFault(FaultEnd)
        case heal
        case livenessCheck
        case transferLeadership
        case kill
        case finish
    }

    enum FaultEnd {
        case resume(Int, generation: Int)
        case restart(Int)
        case crashAfterStop(Int, generation: Int)
        case health(Int, number: Int)
        case partition(number: Int)
        case loss(number: Int)
        case zombieDies(Int, generation: Int)
    }

    enum Message {
        case proposal(LeaseCommand, from: Int, generation: Int, sentAt: Duration?)
        case commitNotice(index: Int, term: Int, leader: Int)
        case gossip(from: Int, healthy: Bool)
    }

    /// One entry waiting at a (believed) leader.
    struct PendingEntry {
        var command: LeaseCommand?  // nil: the no-op a new leader commits first
        var proposer: Int?
        var generation: Int
        var sentAt: Duration?
        var readyAt: Duration
    }

    /// One committed entry, with the result of its first application.
    struct CommittedEntry {
        var command: LeaseCommand?
        var result: LeaseApplyResult?
    }

    struct Replica {
        let id: NodeID
        let priority: Int
        let mayBeHot: Bool
        var up = true
        var paused = false
        var deferred: [Event] = []
        var generation = 0
        var clock: DriftingClock
        var holder: LeaseHolder
        var grantor: LeaseGrantor
        var table = LeaseTable()
        var applied = 0
        var term = 1
        var believesLeader = false
        var knownLeader: Int?
        var healthy = true
        var healthFault = 0
        var heard: [Int: (at: Duration, healthy: Bool)] = [:]
        var holderArm: (id: UInt64, deadline: Duration)?
        var grantorArm: (id: UInt64, deadline: Duration)?
        var lastLeaderContact: Duration = .zero
        var electionTimeout: Duration = .milliseconds(450)
        var lostQuorumSince: Duration?
    }

    static let group: LeaseGroup = "sim"
    static let heartbeatInterval: Duration = .milliseconds(50)
    static let inTouchWindow: Duration = .seconds(1)

    let options: LeaseSimulationOptions
    let settings: LeaseSettings
    let drift: Double
    var random: DeterministicRandom
    var queue = EventQueue<Event>()
    var now: Duration = .zero
    var network: SimulatedNetwork<Int>
    var replicas: [Replica] = []
    /// Replaced processes that run on, cut off (``LeaseZombie``).
    var zombies: [LeaseZombie] = []
    var checker = LeaseInvariantChecker()
    var trace: LeaseSimulationTrace
    var backend = FencedBackend()
    var events = 0
    var nextArm: UInt64 = 1
    var done = false

    // Log model.
    var log: [CommittedEntry] = []
    var committedTable = LeaseTable()
    var raftLeader: Int?
    var raftTerm = 1
    var pending: [[PendingEntry]] = []
    var electionUnderway = false
    var commitLatency: ClosedRange<Int64>
    var longWriteDelayRate = 0.0

    // Faults and measurements.
    var chaosOver = false
    var healedAt: Duration?
    var faultNumber = 0
    var partitionNumber = 0
    var lossNumber = 0
    var healedWriteAccepted = false
    var stable: (holder: Int, token: UInt64, colds: Int)?
    var coldTransitions = 0
    var suspensions = 0
    /// Commits stall until this real time (a slow disk or a leader change in the making).
    var commitsStalledUntil: Duration?
    var tracedToken: UInt64 = 0
    var killTime: Duration?
    var killedToken: UInt64 = 0
    var failover: Duration?
    var watchedHot: Int?
    var watchedToken: UInt64 = 0
    var hotSteppedDown = false

    // Writes in flight and hand-overs.
    var writesInFlight: [UInt64: LeaseWriteInFlight] = [:]
    var nextWrite: UInt64 = 1
    var handOvers: [UInt64: LeaseHandOver] = [:]
    var drains = 0
    var drainTimeouts = 0

    public init(options: LeaseSimulationOptions) {
        self.options = options
        settings = options.settings
        drift = options.clockDrift ?? options.settings.maxDrift
        random = DeterministicRandom(seed: options.seed)
        trace = LeaseSimulationTrace(limit: options.traceLimit)
        let quiet = options.scenario != .chaos
        network = SimulatedNetwork(faults: quiet
            ? NetworkFaults(minDelay: .microseconds(100), maxDelay: .milliseconds(1))
            : NetworkFaults(lossRate: 0.02, duplicateRate: 0.01, minDelay: .microseconds(500), maxDelay: .milliseconds(10)))
        commitLatency = quiet ? 1_000_000...4_000_000 : 1_000_000...15_000_000
        longWriteDelayRate = quiet ? 0 : 0.02
    }

    /// Runs the seed to the end and reports what happened.
    public static func run(_ options: LeaseSimulationOptions) -> LeaseSimulationResult {
        var simulation = LeaseSimulation(options: options)
        return simulation.run()
    }

    mutating func run() -> LeaseSimulationResult {
        setUp()
        while checker.violations.isEmpty, !done, let (time, event) = queue.pop() {
            now = time
            events += 1
            if let zombie = zombie(for: event) {
                handle(event, atZombie: zombie)
                checkSafety()
                continue
            }
            if let node = target(of: event), replicas[node].up, replicas[node].paused {
                replicas[node].deferred.append(event)
                continue
            }
            handle(event)
            checkSafety()
        }
        return LeaseSimulationResult(
            seed: options.seed, scenario: options.scenario, replicas: replicas.count, violations: checker.violations,
            trace: trace.lines, traceHash: trace.hash, events: events, grants: committedTable[Self.group].token,
            acceptedWrites: backend.accepted, rejectedWrites: backend.rejected, failover: failover,
            hotSteppedDown: hotSteppedDown, suspensions: suspensions, drains: drains, drainTimeouts: drainTimeouts,
            virtualTime: now)
    }

    // MARK: Setup

    mutating func setUp() {
        let count = options.replicas ?? (Bool.random(using: &random) ? 3 : 5)
        for index in 0..<count {
            let id = NodeID("r\(index + 1)") ?? "r"
            let clock = newClock()
            let local = clock.local(at: now)
            replicas.append(Replica(
                id: id, priority: Int.random(in: 0...2, using: &random),
                mayBeHot: index < 2 || Int.random(in: 0..<5, using: &random) != 0, clock: clock,
                holder: LeaseHolder(settings: settings(of: index), group: Self.group, me: id, incarnation: random.next(), now: local),
                grantor: LeaseGrantor(settings: settings(of: index), group: Self.group)))
            replicas[index].grantor.applied(LeaseState(), now: local)
            replicas[index].electionTimeout = drawElectionTimeout()
            queue.schedule(.gossip(index, generation: 0), at: .milliseconds(Int64.random(in: 0...200, using: &random)))
            queue.schedule(.write(index, generation: 0), at: .milliseconds(Int64.random(in: 0...30, using: &random)))
        }
        pending = Array(repeating: [], count: count)
        let leader = Int.random(in: 0..<count, using: &random)
        raftLeader = leader
        for index in replicas.indices { replicas[index].knownLeader = leader }
        replicas[leader].believesLeader = true
        queue.schedule(.heartbeat, at: Self.heartbeatInterval)
        trace.record("\(count) replicas, leader \(replicas[leader].id), clock drift ≤ \(drift), "
            + "ttl \(GoDuration.format(settings.ttl)) deadline \(GoDuration.format(settings.renewDeadline)) "
            + "period \(GoDuration.format(settings.renewPeriod))"
            + (options.otherSettings.map { " (r2, r4…: ttl \(GoDuration.format($0.ttl)) deadline \(GoDuration.format($0.renewDeadline)))" } ?? ""),
            at: now)
        switch options.scenario {
        case .chaos:
            queue.schedule(.fault, at: .milliseconds(Int64.random(in: 300...1000, using: &random)))
            queue.schedule(.heal, at: options.chaosDuration)
            queue.schedule(.livenessCheck, at: options.chaosDuration + options.livenessBound)
            queue.schedule(.finish, at: options.chaosDuration + options.livenessBound + options.stableDuration)
        case .killHot, .killHotLeader, .killLeader, .transferFromHot, .zombie, .handOver:
            queue.schedule(.transferLeadership, at: .seconds(2))
            queue.schedule(.kill, at: .milliseconds(2500 + Int64.random(in: 0...1000, using: &random)))
        }
    }

    /// The settings replica `index` runs with (``LeaseSimulationOptions/otherSettings`` for r2, r4, …).
    func settings(of index: Int) -> LeaseSettings {
        index % 2 == 1 ? options.otherSettings ?? settings : settings
    }

    mutating func newClock() -> DriftingClock {
        let offset = Duration.milliseconds(Int64.random(in: 0...1_000_000, using: &random))
        return DriftingClock(real: now, local: offset, rate: drawRate())
    }

    mutating func drawRate() -> Double { 1 + Double.random(in: -drift...drift, using: &random) }

    mutating func drawElectionTimeout() -> Duration { .milliseconds(Int64.random(in: 300...600, using: &random)) }

    mutating func delay() -> Duration {
        let low = network.faults.minDelay.nanoseconds
        return .nanoseconds(Int64.random(in: low...max(low, network.faults.maxDelay.nanoseconds), using: &random))
    }

    func localNow(_ node: Int) -> Duration { replicas[node].clock.local(at: now) }

    // MARK: Dispatch

    func target(of event: Event) -> Int? {
        switch event {
        case .holderTimer(let node, _), .grantorTimer(let node, _), .deliver(let node, _), .answer(let node, _, _, _, _),
             .commit(let node, _), .gossip(let node, _), .write(let node, _), .writeAnswered(let node, _, _), .drainTimeout(let node, _, _):
            node
        default:
            nil
        }
    }

    mutating func handle(_ event: Event) {
        switch event {
        case .holderTimer(let node, let arm):
            guard replicas[node].up, replicas[node].holderArm?.id == arm else { return }
            replicas[node].holderArm = nil
            perform(node, replicas[node].holder.tick(now: localNow(node)))
        case .grantorTimer(let node, let arm):
            guard replicas[node].up, replicas[node].grantorArm?.id == arm else { return }
            replicas[node].grantorArm = nil
            decideGrant(node)
        case .deliver(let node, let message):
            guard replicas[node].up else { return }
            receive(message, at: node)
        case .answer(let node, let generation, let command, let sentAt, let result):
            guard replicas[node].up, replicas[node].generation == generation else { return }
            answered(node, command, sentAt: sentAt, result)
        case .commit(let node, let term): commit(at: node, term: term)
        case .heartbeat: heartbeat()
        case .gossip(let node, let generation): gossip(node, generation: generation)
        case .write(let node, let generation): writeTimer(node, generation: generation)
        case .backendWrite(let token, let node, let write): backendWrite(token: token, from: node, write: write)
        case .writeAnswered(let node, let generation, let write): writeAnswered(node, generation: generation, write: write)
        case .drainTimeout(let node, let generation, let token): drainTimedOut(node, generation: generation, token: token)
        case .becomeLeader(let node, let term): becomeLeader(node, term: term)
        case .fault: injectFault()
        case .endFault(let end): endFault(end)
        case .heal: healEverything()
        case .livenessCheck: checkLiveness()
        case .transferLeadership: transferLeadership()
        case .kill: kill()
        case .finish: finish()
        }
    }

    // MARK: Safety

    mutating func checkSafety() {
        var believers = hotZombies()
        for index in replicas.indices where replicas[index].up {
            if let token = replicas[index].holder.token(at: localNow(index)) { believers.append((replicas[index].id, token)) }
        }
        guard !believers.isEmpty else { return }
        checker.checkHot(believers: believers, committed: options.checkHolderAgreesWithLog ? committedTable[Self.group] : nil, at: now)
    }

    /// Replicas that believe they are hot now.
    func hotReplicas() -> [Int] {
        replicas.indices.filter { replicas[$0].up && replicas[$0].holder.token(at: localNow($0)) != nil }
    }
}
