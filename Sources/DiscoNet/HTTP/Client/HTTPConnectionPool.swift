// MARK: - Per-host keep-alive pools

/// Idle keep-alive connections per `host:port`, with a bound on open connections per host.
///
/// `acquire` hands out the most recently used idle connection (skipping ones the peer has
/// closed), opens a new slot when under the bound, or waits for a release.
actor HTTPConnectionPool {
    private struct HostState {
        var idle: [(connection: TCPConnection, since: ContinuousClock.Instant)] = []
        var open = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    enum Lease {
        /// A pooled connection to reuse.
        case reuse(TCPConnection)
        /// A slot to open a new connection in.
        case open
    }

    private let maxPerHost: Int
    private let idleTimeout: Duration
    private var hosts: [String: HostState] = [:]
    private var isShutDown = false
    /// Connections opened so far (for observing reuse).
    private(set) var connectionsOpened = 0

    init(maxPerHost: Int, idleTimeout: Duration) {
        self.maxPerHost = max(1, maxPerHost)
        self.idleTimeout = idleTimeout
    }

    func acquire(_ key: String) async throws(HTTPClientError) -> Lease {
        while true {
            guard !isShutDown else { throw HTTPClientError(.shutDown, host: key) }
            var state = hosts[key, default: HostState()]
            while let (connection, since) = state.idle.popLast() {
                if ContinuousClock.now - since > idleTimeout {
                    connection.close()
                    state.open -= 1
                    continue
                }
                hosts[key] = state
                return .reuse(connection)
            }
            if state.open < maxPerHost {
                state.open += 1
                connectionsOpened += 1
                hosts[key] = state
                return .open
            }
            hosts[key] = state
            await withCheckedContinuation { continuation in
                hosts[key, default: HostState()].waiters.append(continuation)
            }
        }
    }

    /// Returns a slot: with a reusable connection it goes back to the idle list, otherwise the
    /// slot is freed. Either way one waiter, if any, tries again.
    func release(_ key: String, connection: TCPConnection?) {
        var state = hosts[key, default: HostState()]
        if let connection, !isShutDown {
            state.idle.append((connection, ContinuousClock.now))
        } else {
            connection?.close()
            state.open = max(0, state.open - 1)
        }
        if !state.waiters.isEmpty { state.waiters.removeFirst().resume() }
        hosts[key] = state
    }

    /// Closes idle connections and refuses new leases.
    func shutdown() {
        isShutDown = true
        for (key, var state) in hosts {
            for (connection, _) in state.idle { connection.close() }
            state.idle.removeAll()
            for waiter in state.waiters { waiter.resume() }
            state.waiters.removeAll()
            hosts[key] = state
        }
    }
}
