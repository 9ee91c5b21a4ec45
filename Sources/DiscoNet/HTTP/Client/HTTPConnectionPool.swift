import Synchronization

// MARK: - Per-host keep-alive pools

/// Idle keep-alive connections per `host:port`, with a bound on open connections per host.
///
/// `acquire` hands out the most recently used idle connection (dropping ones idle for too long),
/// opens a new slot when under the bound, or waits for a release. `release` is synchronous, so a
/// response body abandoned half-way can free its slot from a `deinit`.
final class HTTPConnectionPool: Sendable {
    private struct HostState {
        var idle: [IdleConnection] = []
        var open = 0
        var waiters: [CheckedContinuation<Attempt, Never>] = []
    }

    /// An idle connection with when it went idle (monotonic nanoseconds: cheaper to read and
    /// compare than `ContinuousClock`, and the pool does both on every request), and what its
    /// last user left with it to reuse on the connection's loop (an inline exchange).
    private struct IdleConnection {
        let connection: TCPConnection
        let since: UInt64
        let spare: (any AnyObject & Sendable)?
    }

    private struct State {
        var hosts: [String: HostState] = [:]
        var isShutDown = false
        var connectionsOpened = 0
    }

    enum Lease {
        /// A pooled connection to reuse.
        case reuse(TCPConnection)
        /// A slot to open a new connection in.
        case open
    }

    private enum Attempt {
        case lease(Lease)
        case shutDown
        case retry
    }

    private let maxPerHost: Int
    /// How long a connection may stay idle, in nanoseconds.
    private let idleTimeout: UInt64
    private let state = Mutex(State())

    init(maxPerHost: Int, idleTimeout: Duration) {
        self.maxPerHost = max(1, maxPerHost)
        self.idleTimeout = MonotonicClock.nanoseconds(idleTimeout)
    }

    /// True when a connection idle since `since` has been idle too long at `now` (read before
    /// the lock, so it may be a little older than `since`: then it is not expired).
    private func isExpired(since: UInt64, now: UInt64) -> Bool {
        now > since && now - since > idleTimeout
    }

    /// Connections opened so far (for observing reuse).
    var connectionsOpened: Int { state.withLock { $0.connectionsOpened } }

    func acquire(_ key: String) async throws(HTTPClientError) -> Lease {
        while true {
            let attempt = await withCheckedContinuation { (continuation: CheckedContinuation<Attempt, Never>) in
                var expired: [TCPConnection] = []
                let now = MonotonicClock.nowNanoseconds()
                let immediate = state.withLock { state -> Attempt? in
                    guard !state.isShutDown else { return .shutDown }
                    var host = state.hosts[key, default: HostState()]
                    defer { state.hosts[key] = host }
                    while let entry = host.idle.popLast() {
                        if isExpired(since: entry.since, now: now) {
                            expired.append(entry.connection)
                            host.open -= 1
                            continue
                        }
                        return .lease(.reuse(entry.connection))
                    }
                    if host.open < maxPerHost {
                        host.open += 1
                        state.connectionsOpened += 1
                        return .lease(.open)
                    }
                    host.waiters.append(continuation)
                    return nil
                }
                for connection in expired { connection.close() }
                if let immediate { continuation.resume(returning: immediate) }
            }
            switch attempt {
            case .lease(let lease): return lease
            case .shutDown: throw HTTPClientError(.shutDown, host: key)
            case .retry: continue
            }
        }
    }

    /// The most recently used idle connection to `key` that lives on `loop`, without waiting;
    /// nil when there is none (or the pool is shut down). Connections idle for too long are
    /// closed on the way. The caller owns the slot as after ``acquire(_:)``.
    func takeIdle(_ key: String, on loop: EventLoop) -> TCPConnection? {
        takeIdleWithSpare(key, on: loop)?.connection
    }

    /// ``takeIdle(_:on:)`` with what the connection's last user left with it (see
    /// ``release(_:connection:now:spare:)``).
    func takeIdleWithSpare(_ key: String, on loop: EventLoop) -> (connection: TCPConnection, spare: (any AnyObject & Sendable)?)? {
        var expired: [TCPConnection] = []
        // Called on `loop`: the time its turn began is near enough for an idle timeout.
        let now = loop.turnNanoseconds
        let taken = state.withLock { state -> IdleConnection? in
            guard !state.isShutDown, let index = state.hosts.index(forKey: key) else { return nil }
            // Modified in place through its index (one lookup): a copy of the host's state would
            // copy its idle list too.
            return takeIdle(from: &state.hosts.values[index], on: loop, now: now, expired: &expired)
        }
        for connection in expired { connection.close() }
        return taken.map { ($0.connection, $0.spare) }
    }

    private func takeIdle(from host: inout HostState, on loop: EventLoop, now: UInt64,
                          expired: inout [TCPConnection]) -> IdleConnection? {
        while let last = host.idle.last, isExpired(since: last.since, now: now) {
            expired.append(last.connection)
            host.idle.removeLast()
            host.open -= 1
        }
        guard let index = host.idle.lastIndex(where: { $0.connection.channel.loop === loop }) else { return nil }
        return host.idle.remove(at: index)
    }

    /// Returns a slot: with a reusable connection it goes back to the idle list, otherwise the
    /// slot is freed (and the connection, if any, closed). Either way one waiter tries again.
    /// `now` (monotonic nanoseconds) stamps an idle connection; a caller on a loop passes the
    /// time its turn began instead of reading the clock. `spare` is kept with the connection and
    /// handed back with it by ``takeIdleWithSpare(_:on:)`` (only on the connection's loop).
    func release(_ key: String, connection: TCPConnection?, now: UInt64? = nil, spare: (any AnyObject & Sendable)? = nil) {
        let now = now ?? MonotonicClock.nowNanoseconds()
        let (waiter, toClose) = state.withLock { state -> (CheckedContinuation<Attempt, Never>?, TCPConnection?) in
            let isShutDown = state.isShutDown
            // Modified in place: a copy of the host's state would copy its idle list too.
            return Self.release(connection, into: &state.hosts[key, default: HostState()], isShutDown: isShutDown, now: now, spare: spare)
        }
        toClose?.close()
        waiter?.resume(returning: .retry)
    }

    private static func release(_ connection: TCPConnection?, into host: inout HostState, isShutDown: Bool,
                                now: UInt64, spare: (any AnyObject & Sendable)?) -> (CheckedContinuation<Attempt, Never>?, TCPConnection?) {
        var toClose: TCPConnection?
        if let connection, !isShutDown {
            host.idle.append(IdleConnection(connection: connection, since: now, spare: spare))
        } else {
            toClose = connection
            host.open = max(0, host.open - 1)
        }
        return (host.waiters.isEmpty ? nil : host.waiters.removeFirst(), toClose)
    }

    /// Closes idle connections and refuses new leases.
    func shutdown() {
        let (idle, waiters) = state.withLock { state -> ([TCPConnection], [CheckedContinuation<Attempt, Never>]) in
            state.isShutDown = true
            var idle: [TCPConnection] = []
            var waiters: [CheckedContinuation<Attempt, Never>] = []
            for (key, var host) in state.hosts {
                idle += host.idle.map(\.connection)
                waiters += host.waiters
                host.idle.removeAll()
                host.waiters.removeAll()
                state.hosts[key] = host
            }
            return (idle, waiters)
        }
        for connection in idle { connection.close() }
        for waiter in waiters { waiter.resume(returning: .shutDown) }
    }
}
