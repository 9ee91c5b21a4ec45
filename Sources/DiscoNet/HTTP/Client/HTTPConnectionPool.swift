import Synchronization

// MARK: - Per-host keep-alive pools

/// Idle keep-alive connections per `host:port`, with a bound on open connections per host.
///
/// `acquire` hands out the most recently used idle connection (dropping ones idle for too long),
/// opens a new slot when under the bound, or waits for a release. `release` is synchronous, so a
/// response body abandoned half-way can free its slot from a `deinit`.
final class HTTPConnectionPool: Sendable {
    /// One host's connections. A class: found once per request and changed in place, with no
    /// copy of its lists; only ever touched while holding the pool's mutex.
    private final class Host {
        // No runtime exclusivity check: touched only while holding the mutex, by one caller at
        // a time, and no access overlaps another.
        @exclusivity(unchecked) var idle: [IdleConnection] = []
        @exclusivity(unchecked) var open = 0
        @exclusivity(unchecked) var waiters: [CheckedContinuation<Attempt, Never>] = []
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
        /// Every host ever asked for (entries are never removed: a host without connections
        /// costs a few words).
        var hosts: [String: Host] = [:]
        /// The host last looked up and its key: a proxy asks for the same origin request after
        /// request, and comparing the key (the very same string, usually) is cheaper than
        /// hashing it.
        var lastKey = ""
        var lastHost: Host?
        var isShutDown = false
        var connectionsOpened = 0

        mutating func host(_ key: String) -> Host {
            if let lastHost, lastKey == key { return lastHost }
            let host: Host
            if let known = hosts[key] {
                host = known
            } else {
                host = Host()
                hosts[key] = host
            }
            lastKey = key
            lastHost = host
            return host
        }
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
                    let host = state.host(key)
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
            guard !state.isShutDown else { return nil }
            return takeIdle(from: state.host(key), on: loop, now: now, expired: &expired)
        }
        for connection in expired { connection.close() }
        return taken.map { ($0.connection, $0.spare) }
    }

    private func takeIdle(from host: Host, on loop: EventLoop, now: UInt64,
                          expired: inout [TCPConnection]) -> IdleConnection? {
        while let last = host.idle.last, isExpired(since: last.since, now: now) {
            expired.append(last.connection)
            host.idle.removeLast()
            host.open -= 1
        }
        // A connection that received something while idle (a body after a HEAD response's
        // head, bytes past a Content-Length, the peer's FIN) is out of step with its peer: it
        // is dropped, not reused. Its transport knows without a system call; its flags are
        // read on its own loop, which this is.
        while let index = host.idle.lastIndex(where: { $0.connection.channel.loop === loop }) {
            let entry = host.idle.remove(at: index)
            guard entry.connection.channel.closed || entry.connection.channel.mayHaveUnreadInput else { return entry }
            expired.append(entry.connection)
            host.open -= 1
        }
        return nil
    }

    /// Returns a slot: with a reusable connection it goes back to the idle list, otherwise the
    /// slot is freed (and the connection, if any, closed). Either way one waiter tries again.
    /// `now` (monotonic nanoseconds) stamps an idle connection; a caller on a loop passes the
    /// time its turn began instead of reading the clock. `spare` is kept with the connection and
    /// handed back with it by ``takeIdleWithSpare(_:on:)`` (only on the connection's loop).
    func release(_ key: String, connection: TCPConnection?, now: UInt64? = nil, spare: (any AnyObject & Sendable)? = nil) {
        let now = now ?? MonotonicClock.nowNanoseconds()
        let (waiter, toClose) = state.withLock { state -> (CheckedContinuation<Attempt, Never>?, TCPConnection?) in
            Self.release(connection, into: state.host(key), isShutDown: state.isShutDown, now: now, spare: spare)
        }
        toClose?.close()
        waiter?.resume(returning: .retry)
    }

    private static func release(_ connection: TCPConnection?, into host: Host, isShutDown: Bool,
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
            for host in state.hosts.values {
                idle += host.idle.map(\.connection)
                waiters += host.waiters
                host.idle.removeAll()
                host.waiters.removeAll()
            }
            return (idle, waiters)
        }
        for connection in idle { connection.close() }
        for waiter in waiters { waiter.resume(returning: .shutDown) }
    }
}
