import DiscoCore
import DiscoTestKit
import Synchronization
import Testing

// MARK: - Callers of a check share its rounds, each served by one that started after it arrived

@Suite("SharedRounds: one round in flight serves every caller that arrived before it started")
struct SharedRoundsTests {
    // MARK: The pure batching

    @Test("a caller arriving during a round waits for the next; the next's runner is the first of them")
    func batching() {
        var batching = RoundBatching<Int>()
        let arrivals = [1, 2, 3].map { batching.arrive($0) }
        #expect(arrivals == [.run, .wait, .wait])
        #expect(batching.waiting == 2)
        // Round 1 served only its runner; caller 2 runs round 2 for itself and 3.
        let first = batching.endRound()
        #expect(first == .init(served: [], nextRunner: 2))
        let fourth = batching.arrive(4)
        #expect(fourth == .wait)
        let second = batching.endRound()
        #expect(second == .init(served: [3], nextRunner: 4))
        let third = batching.endRound()
        #expect(third == .init(served: [], nextRunner: nil))
        #expect(!batching.isRunning)
        #expect(batching.roundsStarted == 3)
        let later = [5, 6].map { batching.arrive($0) }
        #expect(later == [.run, .wait])
        let left = [6, 6, 5].map { batching.leave($0) }
        #expect(left == [true, false, false], "a caller leaves once; a runner is not waiting")
        let last = batching.endRound()
        #expect(last == .init(served: [], nextRunner: nil))
        #expect(batching.roundsStarted == 4)
    }

    // MARK: Shared rounds with a barrier the test ends by hand

    @Test("100 concurrent callers share two rounds: the first caller's, and one for the 99 that came during it")
    func hundredCallersTwoRounds() async throws {
        let rounds = SharedRounds<Int, RoundFailure>(cancelled: { RoundFailure(round: 0) })
        let hand = HandEndedRounds()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<100 {
                group.addTask { try await rounds.run { () async throws(RoundFailure) -> Int in try await hand.round() } }
            }
            try await waitUntil("a round to run and the other 99 callers to wait", timeout: .seconds(120)) {
                hand.isOpen(1) && rounds.waiting == 99
            }
            hand.end(1, with: .success(1))
            try await waitUntil("the second round to run", timeout: .seconds(120)) { hand.isOpen(2) }
            hand.end(2, with: .success(2))
            var answers: [Int: Int] = [:]
            for try await answer in group { answers[answer, default: 0] += 1 }
            #expect(answers == [1: 1, 2: 99])
        }
        #expect(hand.started == 2)
        #expect(rounds.roundsStarted == 2)
    }

    @Test("a caller that arrives while a round runs is answered by the next round, not that one")
    func arrivalDuringARoundWaitsForTheNext() async throws {
        let rounds = SharedRounds<Int, RoundFailure>(cancelled: { RoundFailure(round: 0) })
        let hand = HandEndedRounds()
        let first = Task { try await rounds.run { () async throws(RoundFailure) -> Int in try await hand.round() } }
        try await waitUntil("the first round to run", timeout: .seconds(120)) { hand.isOpen(1) }
        let second = Task { try await rounds.run { () async throws(RoundFailure) -> Int in try await hand.round() } }
        try await waitUntil("the second caller to wait", timeout: .seconds(120)) { rounds.waiting == 1 }
        hand.end(1, with: .success(1))
        #expect(try await first.value == 1)
        try await waitUntil("the second round to run", timeout: .seconds(120)) { hand.isOpen(2) }
        let third = Task { try await rounds.run { () async throws(RoundFailure) -> Int in try await hand.round() } }
        try await waitUntil("the third caller to wait", timeout: .seconds(120)) { rounds.waiting == 1 }
        hand.end(2, with: .success(2))
        #expect(try await second.value == 2)
        try await waitUntil("the third round to run", timeout: .seconds(120)) { hand.isOpen(3) }
        hand.end(3, with: .success(3))
        #expect(try await third.value == 3)
        #expect(rounds.roundsStarted == 3)
    }

    @Test("a failed round fails the callers it served; the callers of the next round get its answer")
    func failureStaysInItsBatch() async throws {
        let rounds = SharedRounds<Int, RoundFailure>(cancelled: { RoundFailure(round: 0) })
        let hand = HandEndedRounds()
        func call() -> Task<Result<Int, RoundFailure>, Never> {
            Task {
                do throws(RoundFailure) {
                    return .success(try await rounds.run { () async throws(RoundFailure) -> Int in try await hand.round() })
                } catch {
                    return .failure(error)
                }
            }
        }
        let a = call()
        try await waitUntil("round 1 to run", timeout: .seconds(120)) { hand.isOpen(1) }
        let (b, c) = (call(), call())
        try await waitUntil("b and c to wait", timeout: .seconds(120)) { rounds.waiting == 2 }
        hand.end(1, with: .success(1))
        try await waitUntil("round 2 to run", timeout: .seconds(120)) { hand.isOpen(2) }
        let (d, e) = (call(), call())
        try await waitUntil("d and e to wait", timeout: .seconds(120)) { rounds.waiting == 3 }
        hand.end(2, with: .failure(RoundFailure(round: 2)))
        try await waitUntil("round 3 to run", timeout: .seconds(120)) { hand.isOpen(3) }
        hand.end(3, with: .success(3))
        #expect(await a.value == .success(1))
        #expect(await b.value == .failure(RoundFailure(round: 2)))
        #expect(await c.value == .failure(RoundFailure(round: 2)))
        #expect(await d.value == .success(3))
        #expect(await e.value == .success(3))
        #expect(rounds.roundsStarted == 3)
    }

    @Test("a caller cancelled while it waits stops waiting at once; no round runs for it")
    func cancelledWaiterLeaves() async throws {
        let rounds = SharedRounds<Int, RoundFailure>(cancelled: { RoundFailure(round: 0) })
        let hand = HandEndedRounds()
        let first = Task { try await rounds.run { () async throws(RoundFailure) -> Int in try await hand.round() } }
        try await waitUntil("the first round to run", timeout: .seconds(120)) { hand.isOpen(1) }
        let waiter = Task { () -> Result<Int, RoundFailure> in
            do throws(RoundFailure) {
                return .success(try await rounds.run { () async throws(RoundFailure) -> Int in try await hand.round() })
            } catch {
                return .failure(error)
            }
        }
        try await waitUntil("the second caller to wait", timeout: .seconds(120)) { rounds.waiting == 1 }
        waiter.cancel()
        #expect(await waiter.value == .failure(RoundFailure(round: 0)))
        #expect(rounds.waiting == 0)
        hand.end(1, with: .success(1))
        #expect(try await first.value == 1)
        #expect(rounds.roundsStarted == 1)
        #expect(hand.started == 1)
    }
}

// MARK: - Support

struct RoundFailure: Error, Hashable {
    var round: Int
}

/// A barrier whose rounds end when the test says: each call counts as a round started and waits
/// until ``end(_:with:)`` gives it an outcome.
final class HandEndedRounds: Sendable {
    private struct State {
        var started = 0
        var open: [Int: CheckedContinuation<Result<Int, RoundFailure>, Never>] = [:]
    }

    private let state = Mutex(State())

    var started: Int { state.withLock { $0.started } }

    func isOpen(_ round: Int) -> Bool { state.withLock { $0.open[round] != nil } }

    func round() async throws(RoundFailure) -> Int {
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Int, RoundFailure>, Never>) in
            state.withLock { state in
                state.started += 1
                state.open[state.started] = continuation
            }
        }
        return try outcome.get()
    }

    func end(_ round: Int, with outcome: Result<Int, RoundFailure>) {
        let continuation = state.withLock { $0.open.removeValue(forKey: round) }
        continuation?.resume(returning: outcome)
    }
}
