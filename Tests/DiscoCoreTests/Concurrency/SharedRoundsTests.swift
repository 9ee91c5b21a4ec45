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
        let deadlines = HandPassedDeadlines()
        let rounds = SharedRounds<Int, RoundFailure>(cancelled: { RoundFailure(round: 0) }, timedOut: { RoundFailure(round: -1) }, sleep: deadlines.sleep)
        let hand = HandEndedRounds()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<100 {
                // Half wait with a deadline far away: it changes nothing before it passes.
                let deadline = index.isMultiple(of: 2) ? nil : ContinuousClock.now + .seconds(3600)
                group.addTask { try await rounds.run(deadline: deadline) { () async throws(RoundFailure) -> Int in try await hand.round() } }
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
        let deadlines = HandPassedDeadlines()
        let rounds = SharedRounds<Int, RoundFailure>(cancelled: { RoundFailure(round: 0) }, timedOut: { RoundFailure(round: -1) }, sleep: deadlines.sleep)
        let hand = HandEndedRounds()
        let first = Task { try await rounds.run(deadline: nil) { () async throws(RoundFailure) -> Int in try await hand.round() } }
        try await waitUntil("the first round to run", timeout: .seconds(120)) { hand.isOpen(1) }
        let second = Task { try await rounds.run(deadline: nil) { () async throws(RoundFailure) -> Int in try await hand.round() } }
        try await waitUntil("the second caller to wait", timeout: .seconds(120)) { rounds.waiting == 1 }
        hand.end(1, with: .success(1))
        #expect(try await first.value == 1)
        try await waitUntil("the second round to run", timeout: .seconds(120)) { hand.isOpen(2) }
        let third = Task { try await rounds.run(deadline: nil) { () async throws(RoundFailure) -> Int in try await hand.round() } }
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
        let deadlines = HandPassedDeadlines()
        let rounds = SharedRounds<Int, RoundFailure>(cancelled: { RoundFailure(round: 0) }, timedOut: { RoundFailure(round: -1) }, sleep: deadlines.sleep)
        let hand = HandEndedRounds()
        func call() -> Task<Result<Int, RoundFailure>, Never> {
            Task {
                do throws(RoundFailure) {
                    return .success(try await rounds.run(deadline: nil) { () async throws(RoundFailure) -> Int in try await hand.round() })
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

    @Test("a caller cancelled while it waits stops waiting at once (with a deadline or without); no round runs for it",
          arguments: [false, true])
    func cancelledWaiterLeaves(withDeadline: Bool) async throws {
        let deadlines = HandPassedDeadlines()
        let rounds = SharedRounds<Int, RoundFailure>(cancelled: { RoundFailure(round: 0) }, timedOut: { RoundFailure(round: -1) }, sleep: deadlines.sleep)
        let hand = HandEndedRounds()
        let first = Task { try await rounds.run(deadline: nil) { () async throws(RoundFailure) -> Int in try await hand.round() } }
        try await waitUntil("the first round to run", timeout: .seconds(120)) { hand.isOpen(1) }
        let deadline = withDeadline ? ContinuousClock.now + .seconds(3600) : nil
        let waiter = Task { () -> Result<Int, RoundFailure> in
            do throws(RoundFailure) {
                return .success(try await rounds.run(deadline: deadline) { () async throws(RoundFailure) -> Int in try await hand.round() })
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

    // MARK: Each caller's own deadline

    @Test("a caller that leaves (cancelled or past its deadline) is neither served by a round nor runs one")
    func batchingLeaveFromEitherRound() {
        var batching = RoundBatching<Int>()
        let arrivals = [1, 2, 3].map { batching.arrive($0) }
        #expect(arrivals == [.run, .wait, .wait])
        let twoLeft = batching.leave(2)
        #expect(twoLeft, "2 waits for the next round")
        let first = batching.endRound()
        #expect(first == .init(served: [], nextRunner: 3), "2 left: 3 runs the next round")
        let later = [4, 5].map { batching.arrive($0) }
        #expect(later == [.wait, .wait])
        let second = batching.endRound()
        #expect(second == .init(served: [], nextRunner: 4), "4 runs round 3 for itself and 5")
        let sixth = batching.arrive(6)
        #expect(sixth == .wait)
        let fiveLeft = batching.leave(5)
        #expect(fiveLeft, "5 is served by the running round")
        let fourLeft = batching.leave(4)
        #expect(!fourLeft, "4 runs the round")
        #expect(batching.waiting == 1)
        let third = batching.endRound()
        #expect(third == .init(served: [], nextRunner: 6), "5 left: the round served nobody else")
        let last = batching.endRound()
        #expect(last == .init(served: [], nextRunner: nil))
        #expect(batching.roundsStarted == 4)
    }

    @Test("a caller whose deadline passes while another's round runs gets its timeout while that round still runs")
    func waiterStopsAtItsOwnDeadline() async throws {
        let deadlines = HandPassedDeadlines()
        let rounds = SharedRounds<Int, RoundFailure>(cancelled: { RoundFailure(round: 0) }, timedOut: { RoundFailure(round: -1) }, sleep: deadlines.sleep)
        let hand = HandEndedRounds()
        let first = Task { try await rounds.run(deadline: nil) { () async throws(RoundFailure) -> Int in try await hand.round() } }
        try await waitUntil("the first round to run", timeout: .seconds(120)) { hand.isOpen(1) }
        let deadline = ContinuousClock.now
        let answer = Answer()
        let waiter = Task {
            await answer.take { () async throws(RoundFailure) -> Int in
                try await rounds.run(deadline: deadline) { () async throws(RoundFailure) -> Int in try await hand.round() }
            }
        }
        try await waitUntil("the second caller to wait", timeout: .seconds(120)) { rounds.waiting == 1 }
        // A sleep that begins after this returns at once: the deadline passes whenever it began.
        deadlines.pass(through: deadline)
        try await waitUntil("the waiter to give up at its deadline", timeout: .seconds(120)) { answer.outcome != nil }
        #expect(answer.outcome == .failure(RoundFailure(round: -1)))
        #expect(hand.isOpen(1), "the waiter answered while the round it waited for still ran")
        #expect(rounds.waiting == 0)
        await waiter.value
        hand.end(1, with: .success(1))
        #expect(try await first.value == 1)
        #expect(rounds.roundsStarted == 1, "no round ran for the caller that left")
        #expect(hand.started == 1)
    }

    @Test("a caller that timed out waiting for the next round leaves it to the callers still waiting")
    func timedOutWaiterLeavesTheNextRoundToTheOthers() async throws {
        let deadlines = HandPassedDeadlines()
        let rounds = SharedRounds<Int, RoundFailure>(cancelled: { RoundFailure(round: 0) }, timedOut: { RoundFailure(round: -1) }, sleep: deadlines.sleep)
        let hand = HandEndedRounds()
        let first = Task { try await rounds.run(deadline: nil) { () async throws(RoundFailure) -> Int in try await hand.round() } }
        try await waitUntil("the first round to run", timeout: .seconds(120)) { hand.isOpen(1) }
        let soon = ContinuousClock.now
        let later = soon + .seconds(3600)
        // The impatient caller arrives first, so it would run the next round had it stayed.
        let impatient = Answer()
        let impatientTask = Task {
            await impatient.take { () async throws(RoundFailure) -> Int in
                try await rounds.run(deadline: soon) { () async throws(RoundFailure) -> Int in try await hand.round() }
            }
        }
        try await waitUntil("the impatient caller to wait", timeout: .seconds(120)) { rounds.waiting == 1 }
        let patient = Task { try await rounds.run(deadline: later) { () async throws(RoundFailure) -> Int in try await hand.round() } }
        try await waitUntil("the patient caller to wait", timeout: .seconds(120)) { rounds.waiting == 2 }
        deadlines.pass(through: soon)
        try await waitUntil("the impatient caller to give up", timeout: .seconds(120)) { impatient.outcome != nil }
        await impatientTask.value
        #expect(impatient.outcome == .failure(RoundFailure(round: -1)))
        #expect(rounds.waiting == 1)
        #expect(hand.isOpen(1))
        hand.end(1, with: .success(1))
        #expect(try await first.value == 1)
        try await waitUntil("the patient caller to run the second round", timeout: .seconds(120)) { hand.isOpen(2) }
        hand.end(2, with: .success(2))
        #expect(try await patient.value == 2)
        #expect(rounds.roundsStarted == 2)
        #expect(rounds.waiting == 0)
        #expect(deadlines.sleeping == 0, "the patient caller's deadline ended with its wait")
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

/// The outcome of one call, readable while the call runs (nil until it ends).
final class Answer: Sendable {
    private let state = Mutex<Result<Int, RoundFailure>?>(nil)

    var outcome: Result<Int, RoundFailure>? { state.withLock { $0 } }

    /// Runs `call` and keeps its outcome.
    func take(_ call: () async throws(RoundFailure) -> Int) async {
        let outcome: Result<Int, RoundFailure>
        do throws(RoundFailure) {
            outcome = .success(try await call())
        } catch {
            outcome = .failure(error)
        }
        state.withLock { $0 = outcome }
    }
}

/// Deadlines that pass when the test says (``pass(through:)``): SharedRounds' `sleep`.
final class HandPassedDeadlines: Sendable {
    private struct State {
        var passedThrough: ContinuousClock.Instant?
        var sleepers: [(until: ContinuousClock.Instant, wakeUp: OneShotWakeUp)] = []
    }

    private let state = Mutex(State())

    /// Sleeps not yet woken.
    var sleeping: Int { state.withLock { $0.sleepers.count } }

    /// Every sleep until `instant` or earlier returns, now and from now on.
    func pass(through instant: ContinuousClock.Instant) {
        let woken = state.withLock { state in
            state.passedThrough = max(instant, state.passedThrough ?? instant)
            defer { state.sleepers.removeAll { $0.until <= instant } }
            return state.sleepers.filter { $0.until <= instant }.map(\.wakeUp)
        }
        for wakeUp in woken { wakeUp.wake() }
    }

    /// Returns once `until` has been passed; throws CancellationError when cancelled first.
    @Sendable func sleep(until: ContinuousClock.Instant) async throws {
        let wakeUp = OneShotWakeUp()
        let passed = state.withLock { state -> Bool in
            if let through = state.passedThrough, until <= through { return true }
            state.sleepers.append((until, wakeUp))
            return false
        }
        if passed { return }
        await withTaskCancellationHandler {
            await wakeUp.wait()
        } onCancel: {
            wakeUp.wake()
        }
        state.withLock { state in state.sleepers.removeAll { $0.wakeUp === wakeUp } }
        try Task.checkCancellation()
    }
}
