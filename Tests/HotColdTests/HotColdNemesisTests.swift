import DiscoCore
import DiscoTestKit
import HotCold
import LeaseCore
import Synchronization
import Testing

/// Jepsen-style, in one process: three lease shells with the real clock, writers that write
/// through whichever gate gives a token into one fenced store, and a nemesis that kills,
/// pauses, cuts off, sickens and moves the hot replica and changes the leader.
@Suite("Hot/cold under a nemesis")
struct HotColdNemesisTests {
    static let nodes: [NodeID] = ["a", "b", "c"]

    /// A fault and how long it lasts (the nemesis's own pacing, not synchronisation).
    enum Fault: CaseIterable {
        case killAndRestart, pause, cutOff, unhealthy, move, newLeader
    }

    /// The store the replicas protect: it checks tokens (as the application would) and records
    /// who wrote with which token.
    final class Store: Sendable {
        private let state = Mutex<(backend: FencedBackend, accepted: [(UInt64, NodeID)])>((FencedBackend(), []))
        /// Set when the writers should end.
        let finished = Atomic<Bool>(false)

        func write(token: UInt64, from node: NodeID) -> Bool {
            state.withLock { state in
                guard state.backend.write(token: token) else { return false }
                state.accepted.append((token, node))
                return true
            }
        }

        var accepted: [(UInt64, NodeID)] { state.withLock { $0.accepted } }
        var rejected: Int { state.withLock { $0.backend.rejected } }
    }

    @Test(arguments: [(LeaseBackend.table, UInt64(14)), (.keyValue, 2026)])
    func noOverlapNoStaleWriteAndTokensOnlyGrow(backend: LeaseBackend, seed: UInt64) async throws {
        var random = DeterministicRandom(seed: seed)
        let store = Store()
        try await withReplicas(leader: "a", backend: backend) { replicas in
            for node in Self.nodes { try await replicas.started(node) }
            try await waitUntil("a first hot replica") { replicas.hot() != nil }
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Writers: every ~10ms each running replica that holds a token writes with it;
                // some writes are held back half a second, as a paused client would.
                group.addTask {
                    var delayed: [(due: ContinuousClock.Instant, token: UInt64, node: NodeID)] = []
                    var round = 0
                    while !store.finished.load(ordering: .relaxed) {
                        round += 1
                        for node in Self.nodes {
                            guard let token = replicas.runningShell(node)?.gate.fencingToken() else { continue }
                            if round % 7 == 0 {
                                delayed.append((.now + .milliseconds(500), token, node))
                            } else {
                                _ = store.write(token: token, from: node)
                            }
                        }
                        let now = ContinuousClock.now
                        for write in delayed where write.due <= now { _ = store.write(token: write.token, from: write.node) }
                        delayed.removeAll { $0.due <= now }
                        try await Task.sleep(for: .milliseconds(10))
                    }
                }
                for step in 0..<10 {
                    let fault = Fault.allCases.randomElement(using: &random) ?? .pause
                    let hot = replicas.hot()
                    let lasting = Duration.milliseconds(Int64.random(in: 300...1500, using: &random))
                    print("seed \(seed) step \(step): \(fault) of \(hot.map(\.rawValue) ?? "nobody hot") for \(lasting)")
                    switch (fault, hot) {
                    case (.killAndRestart, let node?):
                        replicas.kill(node)
                        try await Task.sleep(for: lasting)
                        try await replicas.started(node)
                    case (.pause, let node?):
                        let shell = replicas.shell(node)
                        shell.pauseLoop()
                        try await Task.sleep(for: lasting)
                        shell.resumeLoop()
                    case (.cutOff, let node?):
                        replicas.cluster.setReachable(node, false)
                        try await Task.sleep(for: lasting)
                        replicas.cluster.setReachable(node, true)
                    case (.unhealthy, let node?):
                        let shell = replicas.shell(node)
                        shell.setUpstreamHealthy(false)
                        try await Task.sleep(for: lasting)
                        shell.setUpstreamHealthy(true)
                    case (.move, let node?):
                        let target = Self.nodes.filter { $0 != node }.randomElement(using: &random) ?? node
                        _ = await replicas.shell(node).move(to: target)
                        try await Task.sleep(for: lasting)
                    case (.newLeader, _):
                        replicas.cluster.setLeader(nil)
                        try await Task.sleep(for: lasting)
                        replicas.cluster.setLeader(Self.nodes.randomElement(using: &random))
                    default:
                        try await Task.sleep(for: lasting)
                    }
                }
                // Healed: a replica must become hot and write with the newest token.
                try await waitUntil("one hot replica after the faults", timeout: .seconds(30)) { replicas.hot() != nil }
                let newest = replicas.cluster.lease(.default).token
                try await waitUntil("a write with the newest token", timeout: .seconds(30)) {
                    store.accepted.last?.0 == newest
                }
                store.finished.store(true, ordering: .relaxed)
                try await group.waitForAll()
            }
            #expect(replicas.hotPeriodViolations() == [], "seed \(seed)")
            let tokens = replicas.grants.map(\.token)
            #expect(tokens == Array(1...UInt64(tokens.count)), "seed \(seed)")
            let accepted = store.accepted.map(\.0)
            #expect(accepted == accepted.sorted(), "seed \(seed)")
            // Each token was written by one node only: the one it was granted to.
            let grantedTo = Dictionary(replicas.grants.map { ($0.token, $0.node) }, uniquingKeysWith: { first, _ in first })
            for (token, node) in store.accepted {
                #expect(grantedTo[token] == node, "seed \(seed): token \(token) written by \(node)")
            }
            print("seed \(seed): \(tokens.count) grants, \(store.accepted.count) writes accepted, \(store.rejected) stale writes rejected")
        }
    }
}
