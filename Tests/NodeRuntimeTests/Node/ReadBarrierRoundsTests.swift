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
        let (running, gate) = try await Self.gatedLeader(setup)
        let node = running.node

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

    /// A barrier that arrived while another's read-index round ran used to wait for the next
    /// round whatever its own timeout: up to about two rounds bounded by other calls' timeouts.
    /// It now stops at its own deadline while the round it waits for still runs.
    @Test func aBarrierWaitingForAnotherCallsRoundStopsAtItsOwnTimeout() async throws {
        let setup = try TestNodeSetup(id: "rb2", prefix: "disco-read-barrier-timeout")
        defer { setup.removeDirectory() }
        let (running, gate) = try await Self.gatedLeader(setup)
        let node = running.node

        // A patient barrier's round waits at the gate until the test releases it.
        gate.hold()
        let patient = Task { try await node.readBarrier(timeout: .seconds(120)) }
        try await waitUntil("the patient barrier's round to wait at the gate", timeout: .seconds(120)) { gate.held == 1 }
        let impatient = BarrierOutcome()
        let impatientTask = Task { await impatient.take { () async throws(ReplicatedStateError) in try await node.readBarrier(timeout: .milliseconds(200)) } }
        try await waitUntil("the impatient barrier to answer", timeout: .seconds(120)) { impatient.outcome != nil }
        await impatientTask.value
        #expect(gate.held == 1, "the impatient barrier answered only once the patient one's round ended")
        let failure = try #require(impatient.outcome ?? nil, "a barrier whose round never ended succeeded")
        #expect(failure.code == .unavailable)
        #expect(failure.message.contains("within the request's timeout"), "\(failure.message)")

        gate.release()
        try await patient.value
        #expect(await running.stop() == nil)
    }

    /// A single node whose leadership confirmations pass `gate` (open until held), once it
    /// leads and has answered a first barrier.
    static func gatedLeader(_ setup: TestNodeSetup) async throws -> (RunningNode, ConfirmationGate) {
        let gate = ConfirmationGate()
        let running = try await RunningNode.start(setup.configuration, components: { context in
            var components = try await NodeComponents.embedded(context)
            components.consensus = InterposedConsensus(components.consensus, beforeConfirmingLeadership: { await gate.pass() })
            return components
        })
        let node = running.node
        try await waitUntil("\(node.id) to lead", timeout: .seconds(120)) { node.consensus.status.isLeader }
        try await node.readBarrier(timeout: .seconds(60))
        return (running, gate)
    }
}

/// The error a read barrier threw (nil: none), readable once it has ended.
final class BarrierOutcome: Sendable {
    private let state = Mutex<ReplicatedStateError??>(nil)

    /// Nil while the barrier runs; then the error it threw, or nil when it succeeded.
    var outcome: ReplicatedStateError?? { state.withLock { $0 } }

    func take(_ barrier: () async throws(ReplicatedStateError) -> Void) async {
        var failure: ReplicatedStateError?
        do throws(ReplicatedStateError) {
            try await barrier()
        } catch {
            failure = error
        }
        state.withLock { $0 = .some(failure) }
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
