import DiscoNet
import Synchronization

// MARK: - Read timeouts for response bodies

/// Bounds every wait for more of an upstream's response body by the read timeout: each body
/// being relayed registers how to abandon it and reports each piece; one background loop
/// (``run()``) abandons the bodies that made no progress within the timeout, which closes their
/// upstream connections and fails their pending reads. One task for the whole proxy instead of
/// a timer per read.
final class BodyWatchdog: Sendable {
    private struct Entry {
        var lastProgress: ContinuousClock.Instant
        /// Waiting for the client to take a piece, not for the upstream: not timed.
        var paused = false
        let abandon: @Sendable () -> Void
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var expired: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    let timeout: Duration
    private let state = Mutex(State())

    init(timeout: Duration) {
        self.timeout = timeout
    }

    /// Starts watching a body; `abandon` is called (once) if it stalls.
    func watch(_ abandon: @escaping @Sendable () -> Void) -> UInt64 {
        let now = ContinuousClock.now
        return state.withLock { state in
            state.nextID += 1
            state.entries[state.nextID] = Entry(lastProgress: now, abandon: abandon)
            return state.nextID
        }
    }

    /// The body moved on (and the watch resumes if it was paused).
    func progress(_ id: UInt64) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.entries[id]?.lastProgress = now
            state.entries[id]?.paused = false
        }
    }

    /// The proxy waits for the client (a piece being written), not for the upstream: the read
    /// timeout does not run until the next ``progress(_:)``.
    func pause(_ id: UInt64) {
        state.withLock { $0.entries[id]?.paused = true }
    }

    /// Stops watching; true when the body was abandoned for stalling.
    func finish(_ id: UInt64) -> Bool {
        state.withLock { state in
            state.entries[id] = nil
            return state.expired.remove(id) != nil
        }
    }

    /// Bodies being watched (for tests).
    var watching: Int { state.withLock { $0.entries.count } }

    /// Checks a few times per timeout until the task is cancelled.
    func run() async {
        let period = max(.milliseconds(20), min(.seconds(1), timeout / 4))
        while !Task.isCancelled {
            try? await Task.sleep(for: period)
            let deadline = ContinuousClock.now - timeout
            let stalled = state.withLock { state -> [@Sendable () -> Void] in
                var abandon: [@Sendable () -> Void] = []
                for (id, entry) in state.entries where !entry.paused && entry.lastProgress < deadline {
                    state.entries[id] = nil
                    state.expired.insert(id)
                    abandon.append(entry.abandon)
                }
                return abandon
            }
            for abandon in stalled { abandon() }
        }
    }
}
