import DiscoCore
import DiscoTestKit
@testable import NodeRuntime
import Synchronization
import Testing

// MARK: - Concurrent read barriers share the leader's read-index rounds

/// Every `readBarrier(timeout:)` used to run its own read-index round (a quorum confirmation on
/// the leader, an HTTP request to it on a follower), so N concurrent keyed writes through the
/// sidecar made N rounds.
@Suite struct ReadBarrierRoundsTests {
    @Test func concurrentBarriersOnTheLeaderShareReadIndexRounds() async throws {
        let setup = try TestNodeSetup(id: "rb1", prefix: "disco-read-barrier")
        defer { setup.removeDirectory() }
        let gate = ConfirmationGate()
        let running = try await RunningNode.start(setup.configuration, components: { context in
            var components = try await NodeComponents.embedded(context)
            components.consensus = InterposedConsensus(components.consensus, beforeConfirmingLeadership: { await gate.pass() })
            return components
        })
        let node = running.node
        try await waitUntil("rb1 to lead", timeout: .seconds(120)) { node.consensus.status.isLeader }
        try await node.readBarrier(timeout: .seconds(60))

        // Confirmations wait at the gate until every call has either started a round or waits
        // for one; then all go through.
        gate.hold()
        let before = gate.calls
        let calls = 100
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<calls {
                group.addTask { try await node.readBarrier(timeout: .seconds(120)) }
            }
            try await waitUntil("every barrier to run a read-index round or wait for one", timeout: .seconds(120)) {
                gate.held + node.readIndexRounds.waiting + node.leadershipConfirmations.waiting >= calls
            }
            gate.release()
            try await group.waitForAll()
        }
        let rounds = gate.calls - before
        // One round for the first call, one for the 99 that arrived while it ran.
        #expect(rounds <= 2, "\(calls) concurrent read barriers made \(rounds) read-index rounds")
        #expect(await running.stop() == nil)
    }
}

// MARK: - Support

/// Counts the leader's read-index rounds (``ConsensusEngine/confirmLeadership()``) and, while
/// held, keeps them from starting.
final class ConfirmationGate: Sendable {
    private struct State {
        var holding = false
        var calls = 0
        var held: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Rounds asked for so far.
    var calls: Int { state.withLock { $0.calls } }
    /// Rounds waiting at the gate.
    var held: Int { state.withLock { $0.held.count } }

    func hold() { state.withLock { $0.holding = true } }

    func release() {
        let held = state.withLock { state in
            state.holding = false
            defer { state.held = [] }
            return state.held
        }
        for continuation in held { continuation.resume() }
    }

    func pass() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let through = state.withLock { state -> Bool in
                state.calls += 1
                guard state.holding else { return true }
                state.held.append(continuation)
                return false
            }
            if through { continuation.resume() }
        }
    }
}
