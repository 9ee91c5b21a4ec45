import Synchronization

// MARK: - RoundBatching: which callers a shared round serves

/// Which callers a round of some check (a read barrier) serves when callers share rounds.
///
/// At most one round runs at a time. A caller that arrives while none runs starts one at once;
/// a caller that arrives while one runs is not served by it (it started before the caller came)
/// but by the next, which starts when the running one ends and serves every caller that arrived
/// meanwhile. A round therefore serves only callers that arrived before it started, so a read
/// barrier shared this way stays linearizable; rounds follow each other no faster than one per
/// round's duration whatever the number of callers; and no caller waits for more than about two
/// rounds. A caller that stops waiting (cancelled, or past its own deadline) ``leave(_:)``s: no
/// round serves it or is run by it. A pure value: ``SharedRounds`` runs the rounds and wakes the
/// callers.
public struct RoundBatching<Caller: Hashable & Sendable>: Sendable {
    /// What a caller does when it arrives.
    public enum Arrival: Sendable, Hashable {
        /// No round runs: the caller runs one now.
        case run
        /// A round runs: the caller waits for the next one (``Ending/nextRunner`` or ``Ending/served``).
        case wait
    }

    /// What the end of a round decides.
    public struct Ending: Sendable, Hashable {
        /// The callers the round that ended served besides the one that ran it: its outcome is theirs.
        public var served: [Caller]
        /// The caller that runs the next round now, for itself and for every caller that arrived
        /// while the last one ran (nil: none arrived, no round runs).
        public var nextRunner: Caller?

        public init(served: [Caller], nextRunner: Caller?) {
            self.served = served
            self.nextRunner = nextRunner
        }
    }

    // MARK: State

    /// Whether a round runs.
    public private(set) var isRunning = false
    /// Callers the running round serves, besides the one running it.
    private var current: [Caller] = []
    /// Callers that arrived while the running round ran: the next round's.
    private var next: [Caller] = []
    /// Rounds started so far.
    public private(set) var roundsStarted = 0

    public init() {}

    /// Callers waiting for a round to answer them (not counting those running one).
    public var waiting: Int { current.count + next.count }

    // MARK: Events

    /// `caller` arrives: it runs a round now, or waits for the next.
    public mutating func arrive(_ caller: Caller) -> Arrival {
        guard isRunning else {
            isRunning = true
            roundsStarted += 1
            return .run
        }
        next.append(caller)
        return .wait
    }

    /// The running round ended: who it served, and who runs the next.
    public mutating func endRound() -> Ending {
        precondition(isRunning, "RoundBatching.endRound() without a running round (\(roundsStarted) started, \(waiting) waiting)")
        let served = current
        current = []
        guard !next.isEmpty else {
            isRunning = false
            return Ending(served: served, nextRunner: nil)
        }
        let runner = next.removeFirst()
        current = next
        next = []
        roundsStarted += 1
        return Ending(served: served, nextRunner: runner)
    }

    /// `caller` stops waiting (its task was cancelled, or its deadline passed). False when it was
    /// not waiting: it runs a round, or was answered already.
    public mutating func leave(_ caller: Caller) -> Bool {
        if let position = current.firstIndex(of: caller) {
            current.remove(at: position)
            return true
        }
        if let position = next.firstIndex(of: caller) {
            next.remove(at: position)
            return true
        }
        return false
    }
}

// MARK: - SharedRounds

/// Callers of one check that share its rounds as ``RoundBatching`` says: a caller either runs
/// the round itself, in its own task, or waits for one that started after it arrived and takes
/// that round's outcome. When a round ends, the first caller that arrived during it runs the
/// next, so no task beyond the callers' own (and, for a waiter with a deadline, a child task that
/// sleeps until it) is ever started.
///
/// A round that fails fails only the callers it served; the next round tries afresh. A caller
/// cancelled while it waits stops waiting at once, answered with the `cancelled` error; one whose
/// own deadline passes while it waits stops waiting then, answered with the `timedOut` error,
/// whoever runs the round it waits for and however long that takes. A runner is not cut short:
/// it finishes its round (its own cancellation, or the deadline the round is given, may make it
/// fail).
public final class SharedRounds<Value: Sendable, Failure: Error>: Sendable {
    private enum Turn: Sendable {
        case run
        case answered(Result<Value, Failure>)
    }

    /// Why a waiting caller stops waiting before a round answers it.
    private enum Leaving {
        case cancelled
        case timedOut
    }

    /// A waiting caller: its turn may be decided before it has suspended.
    private enum Waiter {
        /// Waiting, not suspended yet.
        case arrived
        /// Suspended on this continuation (resumed once, by whoever decides its turn).
        case suspended(CheckedContinuation<Turn, Never>)
        /// Decided before it suspended: it takes this turn without suspending.
        case decided(Turn)
    }

    private struct State {
        var batching = RoundBatching<UInt64>()
        var lastCaller: UInt64 = 0
        /// One per caller ``RoundBatching`` has waiting, plus callers whose turn was decided
        /// before they suspended (until they take it).
        var waiters: [UInt64: Waiter] = [:]

        /// Decides `caller`'s turn: the continuation to resume with it (after the lock is
        /// released), or none when the caller has not suspended yet (it takes the turn itself).
        mutating func decide(_ caller: UInt64, _ turn: Turn) -> (CheckedContinuation<Turn, Never>, Turn)? {
            switch waiters[caller] {
            case .suspended(let continuation):
                waiters[caller] = nil
                return (continuation, turn)
            case .arrived:
                waiters[caller] = .decided(turn)
                return nil
            case .decided, nil:
                // Not reached: RoundBatching hands each waiting caller to one decision.
                return nil
            }
        }
    }

    /// Returns once an instant has passed; throws when the task is cancelled first.
    public typealias Sleep = @Sendable (ContinuousClock.Instant) async throws -> Void

    private let state = Mutex(State())
    private let cancelled: @Sendable () -> Failure
    private let timedOut: @Sendable () -> Failure
    private let sleep: Sleep

    /// - Parameters:
    ///   - cancelled: the error a caller gets when its task is cancelled while it waits.
    ///   - timedOut: the error a caller gets when its deadline passes while it waits.
    ///   - sleep: how a waiter waits for its deadline (this module reads no clock): in a running
    ///     program `{ try await Task.sleep(until: $0, clock: .continuous) }`.
    public init(cancelled: @escaping @Sendable () -> Failure, timedOut: @escaping @Sendable () -> Failure, sleep: @escaping Sleep) {
        self.cancelled = cancelled
        self.timedOut = timedOut
        self.sleep = sleep
    }

    /// Rounds started so far.
    public var roundsStarted: Int { state.withLock { $0.batching.roundsStarted } }
    /// Callers waiting for a round to answer them (not counting one running a round).
    public var waiting: Int { state.withLock { $0.batching.waiting } }

    /// The outcome of a round that started after this call: `round` run now by this caller, or
    /// another caller's run of it (every caller passes the same check). A caller that waits for
    /// another's round stops waiting at `deadline` (nil: it waits until the round ends) and
    /// throws the `timedOut` error; `round` should respect the deadline of the caller that runs
    /// it, which this does not enforce.
    public func run(deadline: ContinuousClock.Instant?, _ round: () async throws(Failure) -> Value) async throws(Failure) -> Value {
        if Task.isCancelled { throw cancelled() }
        let (caller, arrival) = state.withLock { state -> (UInt64, RoundBatching<UInt64>.Arrival) in
            state.lastCaller += 1
            let caller = state.lastCaller
            let arrival = state.batching.arrive(caller)
            if arrival == .wait { state.waiters[caller] = .arrived }
            return (caller, arrival)
        }
        if arrival == .wait, case .answered(let outcome) = await waitForTurn(caller, deadline: deadline) {
            return try outcome.get()
        }
        let outcome: Result<Value, Failure>
        do throws(Failure) {
            outcome = .success(try await round())
        } catch {
            outcome = .failure(error)
        }
        endRound(outcome)
        return try outcome.get()
    }

    // MARK: Private

    /// Waits until a round answers `caller` or makes it the next runner, it is cancelled, or
    /// `deadline` passes, whichever comes first. The deadline is a child task's ``Sleep``, ended
    /// as soon as the turn is decided (the task group waits for it, so nothing outlives the call).
    private func waitForTurn(_ caller: UInt64, deadline: ContinuousClock.Instant?) async -> Turn {
        guard let deadline else { return await turnOrCancellation(caller) }
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Throws (and leaves nothing to do) once the turn is decided or the caller cancelled.
                guard (try? await self.sleep(deadline)) != nil else { return }
                self.leave(caller, .timedOut)
            }
            let turn = await turnOrCancellation(caller)
            group.cancelAll()
            return turn
        }
    }

    /// `caller`'s turn, or the `cancelled` error once its task is cancelled.
    private func turnOrCancellation(_ caller: UInt64) async -> Turn {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
                let decided = state.withLock { state -> Turn? in
                    guard case .decided(let turn) = state.waiters[caller] else {
                        state.waiters[caller] = .suspended(continuation)
                        return nil
                    }
                    state.waiters[caller] = nil
                    return turn
                }
                if let decided { continuation.resume(returning: decided) }
            }
        } onCancel: {
            leave(caller, .cancelled)
        }
    }

    /// Answers the callers the round served, and wakes the one to run the next.
    private func endRound(_ outcome: Result<Value, Failure>) {
        let resumptions = state.withLock { state in
            let ending = state.batching.endRound()
            var resumptions = ending.served.compactMap { state.decide($0, .answered(outcome)) }
            if let runner = ending.nextRunner, let resumption = state.decide(runner, .run) { resumptions.append(resumption) }
            return resumptions
        }
        for (continuation, turn) in resumptions { continuation.resume(returning: turn) }
    }

    /// `caller` stops waiting (cancelled, or its deadline passed), unless a round answered it
    /// or made it the next runner first.
    private func leave(_ caller: UInt64, _ reason: Leaving) {
        let failure = reason == .cancelled ? cancelled() : timedOut()
        let resumption = state.withLock { state -> (CheckedContinuation<Turn, Never>, Turn)? in
            guard state.batching.leave(caller) else { return nil }
            return state.decide(caller, .answered(.failure(failure)))
        }
        if let (continuation, turn) = resumption { continuation.resume(returning: turn) }
    }
}
