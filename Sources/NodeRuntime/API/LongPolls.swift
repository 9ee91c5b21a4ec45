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
        /// Cancels each running long poll's task, by id.
        var running: [UInt64: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    /// Runs `wait` (which must return promptly once its task is cancelled) as a long poll: it is
    /// cancelled by ``endAll()`` (at once when that already happened) or with the caller's task.
    func run<Result: Sendable>(_ wait: @escaping @Sendable () async -> Result) async -> Result {
        let task = Task { await wait() }
        let id = state.withLock { state -> UInt64? in
            guard !state.ended else { return nil }
            state.nextID += 1
            state.running[state.nextID] = { task.cancel() }
            return state.nextID
        }
        if id == nil { task.cancel() }
        let result = await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
        if let id { _ = state.withLock { $0.running.removeValue(forKey: id) } }
        return result
    }

    /// Ends every long poll now and every later one at once.
    func endAll() {
        let running = state.withLock { state -> [@Sendable () -> Void] in
            state.ended = true
            return Array(state.running.values)
        }
        for cancel in running { cancel() }
    }
}
