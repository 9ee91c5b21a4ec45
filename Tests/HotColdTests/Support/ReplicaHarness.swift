import DiscoCore
import DiscoSystem
import DiscoTestKit
import HotCold
import LeaseCore
import Synchronization

// MARK: - Running several lease shells over one in-memory cluster

/// Runs lease shells over an ``InMemoryLeaseCluster`` with the real clock, each in a task owned
/// by ``withReplicas(leader:_:)``; a shell can be killed (its task cancelled, as `kill -9` would
/// end it) or stopped, and started again as a new process of the same node.
final class ReplicaHarness: Sendable {
    let cluster: any LeaseClusterDouble
    let logs = MemoryLogSink()
    private let starts: AsyncStream<(HotColdLease, AsyncStream<Void>)>.Continuation
    private let running = Mutex<[NodeID: (shell: HotColdLease, kill: AsyncStream<Void>.Continuation)]>([:])
    /// Every shell ever started, in order (killed ones too), for checks over all of them.
    private let everyShell = Mutex<[HotColdLease]>([])
    private let finished = Mutex<Set<ObjectIdentifier>>([])
    private let observed = Mutex<[HotColdChange]>([])

    /// Every change every shell reported to its observer, in order.
    var changes: [HotColdChange] { observed.withLock { $0 } }

    init(cluster: any LeaseClusterDouble, starts: AsyncStream<(HotColdLease, AsyncStream<Void>)>.Continuation) {
        self.cluster = cluster
        self.starts = starts
    }

    /// The lease timing of the tests: twice the defaults (ttl 1.6s, deadline 1.3s, renew every
    /// 300ms), so a test runner loaded by the whole suite on two cores rarely makes a hot replica
    /// miss its deadline. The behaviour checked is the same; the simulator covers the defaults.
    static let testLease: LeaseSettings = {
        guard let settings = try? LeaseSettings(ttl: .milliseconds(1600), renewDeadline: .milliseconds(1300),
                                                renewPeriod: .milliseconds(300)) else { fatalError("invalid test lease settings") }
        return settings
    }()

    /// Starts a new process of `node` (with ``testLease`` unless `configure` changes it).
    @discardableResult
    func start(_ node: NodeID, _ configure: (inout HotColdConfiguration) -> Void = { _ in }) -> HotColdLease {
        var configuration = HotColdConfiguration()
        configuration.lease = Self.testLease
        configure(&configuration)
        let logger = Logger(label: "hotcold.\(node)", level: .debug, handler: LogfmtHandler(sink: logs))
        let shell = HotColdLease(node: node, configuration: configuration, store: cluster.leaseStore(for: node, logger: logger),
                                 logger: logger) { [self] change in self.observed.withLock { $0.append(change) } }
        let (kills, kill) = AsyncStream<Void>.makeStream()
        running.withLock { $0[node] = (shell, kill) }
        everyShell.withLock { $0.append(shell) }
        cluster.setAlive(node, true)
        starts.yield((shell, kills))
        return shell
    }

    /// Starts a new process of `node` and waits until the cluster knows its candidacy, so a
    /// leader started afterwards chooses among every replica started before it.
    @discardableResult
    func started(_ node: NodeID, _ configure: (inout HotColdConfiguration) -> Void = { _ in }) async throws -> HotColdLease {
        let shell = start(node, configure)
        try await waitUntil("\(node)'s candidacy known") {
            cluster.announced(in: shell.configuration.group).contains(node)
        }
        return shell
    }

    /// The running shell of `node`.
    func shell(_ node: NodeID) -> HotColdLease {
        guard let shell = running.withLock({ $0[node]?.shell }) else { fatalError("no shell for \(node)") }
        return shell
    }

    /// The running shell of `node`, if there is one.
    func runningShell(_ node: NodeID) -> HotColdLease? { running.withLock { $0[node]?.shell } }

    /// Ends `node`'s process at once (no step-down, no release) and lets the cluster see it dead.
    func kill(_ node: NodeID) {
        let entry = running.withLock { $0.removeValue(forKey: node) }
        entry?.kill.yield()
        cluster.setAlive(node, false)
    }

    /// Whether `shell`'s `run()` has returned.
    func hasFinished(_ shell: HotColdLease) -> Bool { finished.withLock { $0.contains(ObjectIdentifier(shell)) } }

    func markFinished(_ shell: HotColdLease) { _ = finished.withLock { $0.insert(ObjectIdentifier(shell)) } }

    /// The running nodes whose gate gives a token right now.
    func hotNodes() -> [NodeID] {
        running.withLock { $0 }.filter { $0.value.shell.gate.fencingToken() != nil }.map(\.key).sorted()
    }

    /// The one running node that is hot with a token above `token`, or nil.
    func hot(above token: UInt64 = 0) -> NodeID? {
        let hot = running.withLock { $0 }.filter { ($0.value.shell.gate.fencingToken() ?? 0) > token }.map(\.key)
        return hot.count == 1 ? hot[0] : nil
    }

    /// Every hot period of every shell, ordered by start.
    var allHotPeriods: [(shell: Int, period: HotColdGate.HotPeriod)] {
        everyShell.withLock { $0 }.enumerated()
            .flatMap { index, shell in shell.gate.recentHotPeriods.map { (index, $0) } }
            .sorted { $0.period.from < $1.period.from }
    }

    /// Problems with the hot periods seen so far: two shells hot at once, or a later period with
    /// a token not above an earlier one's.
    func hotPeriodViolations() -> [String] {
        var problems: [String] = []
        let periods = allHotPeriods
        for (earlier, later) in zip(periods, periods.dropFirst()) where earlier.shell != later.shell {
            if later.period.from < earlier.period.until {
                problems.append("shell \(later.shell) hot with token \(later.period.token) while shell \(earlier.shell) was hot with \(earlier.period.token)")
            }
            if later.period.token <= earlier.period.token {
                problems.append("token \(later.period.token) (shell \(later.shell)) after \(earlier.period.token) (shell \(earlier.shell))")
            }
        }
        return problems
    }

    /// Grants applied so far in the default group: (token, node).
    var grants: [(token: UInt64, node: NodeID)] {
        var previous = LeaseState()
        var found: [(UInt64, NodeID)] = []
        for state in cluster.history(of: .default) {
            if state.token > previous.token, let holder = state.holder { found.append((state.token, holder)) }
            previous = state
        }
        return found
    }

    /// Releases applied so far in the default group: (token, node).
    var releases: [(token: UInt64, node: NodeID)] {
        var previous = LeaseState()
        var found: [(UInt64, NodeID)] = []
        for state in cluster.history(of: .default) {
            if state.holder == nil, let holder = previous.holder, state.token == previous.token { found.append((state.token, holder)) }
            previous = state
        }
        return found
    }

    fileprivate func killAll() {
        for (_, entry) in running.withLock({ $0 }) { entry.kill.yield() }
        running.withLock { $0.removeAll() }
        starts.finish()
    }
}

/// Runs `body` with a harness over a new cluster of `backend` led by `leader`; every shell still running
/// afterwards is killed, and its task awaited.
func withReplicas(leader: NodeID?, backend: LeaseBackend = .table, commitDelay: Duration = .milliseconds(2),
                  _ body: (ReplicaHarness) async throws -> Void) async throws {
    let cluster = backend.makeCluster(leader: leader, commitDelay: commitDelay)
    let (startStream, starts) = AsyncStream<(HotColdLease, AsyncStream<Void>)>.makeStream()
    let harness = ReplicaHarness(cluster: cluster, starts: starts)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            await withTaskGroup(of: Void.self) { shells in
                for await (shell, kills) in startStream {
                    shells.addTask {
                        await withTaskGroup(of: Void.self) { lifetime in
                            lifetime.addTask { await shell.run() }
                            lifetime.addTask { for await _ in kills { break } }
                            await lifetime.next()
                            lifetime.cancelAll()
                        }
                        harness.markFinished(shell)
                    }
                }
            }
        }
        do {
            try await body(harness)
        } catch {
            harness.killAll()
            throw error
        }
        harness.killAll()
        try await group.waitForAll()
    }
}
