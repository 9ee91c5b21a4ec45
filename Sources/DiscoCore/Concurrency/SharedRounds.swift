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
/// rounds. A pure value: ``SharedRounds`` runs the rounds and wakes the callers.
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

    /// `caller` stops waiting (its task was cancelled). False when it was not waiting: it runs a
    /// round, or was answered already.
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
/// next, so no task beyond the callers' own is ever started.
///
/// A round that fails fails only the callers it served; the next round tries afresh. A caller
/// cancelled while it waits stops waiting at once, answered with the `cancelled` error; a
/// cancelled runner finishes its round (its own cancellation may make it fail).
public final class SharedRounds<Value: Sendable, Failure: Error>: Sendable {
    private enum Turn: Sendable {
        case run
        case answered(Result<Value, Failure>)
    }

    private struct State {
        var batching = RoundBatching<UInt64>()
        var lastCaller: UInt64 = 0
        /// One per caller ``RoundBatching`` has waiting, and only those.
        var waiters: [UInt64: CheckedContinuation<Turn, Never>] = [:]
    }

    private let state = Mutex(State())
    private let cancelled: @Sendable () -> Failure

    /// `cancelled`: the error a caller gets when its task is cancelled while it waits.
    public init(cancelled: @escaping @Sendable () -> Failure) {
        self.cancelled = cancelled
    }

    /// Rounds started so far.
    public var roundsStarted: Int { state.withLock { $0.batching.roundsStarted } }
    /// Callers waiting for a round to answer them (not counting one running a round).
    public var waiting: Int { state.withLock { $0.batching.waiting } }

    /// The outcome of a round that started after this call: `round` run now by this caller, or
    /// another caller's run of it (every caller passes the same check).
    public func run(_ round: () async throws(Failure) -> Value) async throws(Failure) -> Value {
        if Task.isCancelled { throw cancelled() }
        let caller = state.withLock { state -> UInt64 in
            state.lastCaller += 1
            return state.lastCaller
        }
        let turn = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
                let now = state.withLock { state -> Turn? in
                    if Task.isCancelled { return .answered(.failure(cancelled())) }
                    switch state.batching.arrive(caller) {
                    case .run:
                        return .run
                    case .wait:
                        state.waiters[caller] = continuation
                        return nil
                    }
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            leave(caller)
        }
        switch turn {
        case .answered(let outcome):
            return try outcome.get()
        case .run:
            let outcome: Result<Value, Failure>
            do throws(Failure) {
                outcome = .success(try await round())
            } catch {
                outcome = .failure(error)
            }
            endRound(outcome)
            return try outcome.get()
        }
    }

    // MARK: Private

    /// Answers the callers the round served, and wakes the one to run the next.
    private func endRound(_ outcome: Result<Value, Failure>) {
        let (served, runner) = state.withLock { state in
            let ending = state.batching.endRound()
            let served = ending.served.compactMap { state.waiters.removeValue(forKey: $0) }
            return (served, ending.nextRunner.flatMap { state.waiters.removeValue(forKey: $0) })
        }
        for continuation in served { continuation.resume(returning: .answered(outcome)) }
        runner?.resume(returning: .run)
    }

    private func leave(_ caller: UInt64) {
        let continuation = state.withLock { state -> CheckedContinuation<Turn, Never>? in
            guard state.batching.leave(caller) else { return nil }
            return state.waiters.removeValue(forKey: caller)
        }
        continuation?.resume(returning: .answered(.failure(cancelled())))
    }
}
