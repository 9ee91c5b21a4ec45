import DiscoCore
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// MARK: - PasswordCheckGate

/// Runs slow password checks (PBKDF2, scrypt) a few at a time, each on a thread of its own, and
/// refuses new ones while too many wait: a stream of requests with wrong passwords can then
/// cost the node at most `limit` busy threads (and, for scrypt, `limit` times its memory)
/// instead of one thread per request.
public final class PasswordCheckGate: Sendable {
    private struct State {
        var running = 0
        var waiting: [CheckedContinuation<Bool, Never>] = []
        var peakRunning = 0
        var refused = 0
        var admitted = 0
    }

    /// Checks that run at once.
    public let limit: Int
    /// Checks that may wait for a turn; beyond that a check is refused at once.
    public let maxWaiting: Int
    private let state = Mutex(State())

    public init(limit: Int, maxWaiting: Int) {
        self.limit = max(1, limit)
        self.maxWaiting = max(0, maxWaiting)
    }

    /// Runs `work` on a thread of its own when a turn comes; nil when too many checks are
    /// already waiting (the caller answers "busy").
    public func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T? {
        guard await enter() else { return nil }
        defer { leave() }
        return await withCheckedContinuation { continuation in
            // A serial queue per check runs on a thread of its own: a concurrent or global queue
            // shares its threads with the cooperative pool on Linux, and a slow hash there would
            // stall every task in the process.
            DispatchQueue(label: "disco.auth.verify").async { continuation.resume(returning: work()) }
        }
    }

    /// Processors online (at least 1): the default number of checks that run at once.
    public static var processorsOnline: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Checks run (or running), the most that ran at once, and how many were refused.
    public var counts: (admitted: Int, peakRunning: Int, refused: Int) {
        state.withLock { ($0.admitted, $0.peakRunning, $0.refused) }
    }

    private func enter() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let decision = state.withLock { state -> Bool? in
                if state.running < limit {
                    state.running += 1
                    state.admitted += 1
                    state.peakRunning = max(state.peakRunning, state.running)
                    return true
                }
                if state.waiting.count < maxWaiting {
                    state.waiting.append(continuation)
                    state.admitted += 1
                    return nil
                }
                state.refused += 1
                return false
            }
            if let decision { continuation.resume(returning: decision) }
        }
    }

    /// Hands the turn to the longest waiting check, or frees it.
    private func leave() {
        let next = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard !state.waiting.isEmpty else {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume(returning: true)
    }
}
