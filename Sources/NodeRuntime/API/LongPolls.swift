import DiscoCore
import Synchronization

// MARK: - Long polls of the API

/// The API's long polls (`GET /events?wait=`), ended together when the node shuts down: each
/// then answers at once with what there is (usually no events), so its client gets a complete
/// answer and asks another node, instead of a connection closed mid-wait once the server's grace
/// period ends.
final class LongPolls: Sendable {
    private struct State {
        var ended = false
        var nextID: UInt64 = 0
        /// What wakes each running long poll's watcher, by id.
        var running: [UInt64: OneShotWakeUp] = [:]
    }

    private let state = Mutex(State())

    /// Runs `wait` (which must return promptly once its task is cancelled) as a long poll: it is
    /// cancelled by ``endAll()`` (at once when that already happened) or with the caller's task.
    func run<Result: Sendable>(_ wait: @escaping @Sendable () async -> Result) async -> Result {
        let ending = OneShotWakeUp()
        let id = state.withLock { state -> UInt64? in
            guard !state.ended else { return nil }
            state.nextID += 1
            state.running[state.nextID] = ending
            return state.nextID
        }
        if id == nil { ending.wake() }
        defer { if let id { _ = state.withLock { $0.running.removeValue(forKey: id) } } }
        return await withTaskGroup(of: Result?.self) { group in
            group.addTask { await wait() }
            // The watcher: returns once the polls end, or when the group is cancelled.
            group.addTask {
                await withTaskCancellationHandler { await ending.wait() } onCancel: { ending.wake() }
                return nil
            }
            var answer: Result?
            while let next = await group.next() {
                group.cancelAll()  // the first to return ends the other: the wait, or the watcher
                if let next { answer = next }
            }
            // The wait's child always returns its result, so the loop has seen it.
            guard let answer else { preconditionFailure("a long poll's wait returned no result") }
            return answer
        }
    }

    /// Ends every long poll now and every later one at once.
    func endAll() {
        let running = state.withLock { state -> [OneShotWakeUp] in
            state.ended = true
            return Array(state.running.values)
        }
        for ending in running { ending.wake() }
    }
}
