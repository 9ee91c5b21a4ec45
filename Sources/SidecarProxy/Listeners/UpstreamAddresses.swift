import Dispatch
import DiscoCore
import DiscoNet
import Synchronization

// MARK: - Upstream names, resolved ahead of the connections that ask

/// The addresses of the upstreams the sidecar's listeners pass connections to, as last resolved,
/// for ``SidecarListeners/loop(from:to:)``. That check runs as each new upstream connection is
/// opened, so it must not wait for a name lookup (which blocks, for seconds when a DNS server
/// does not answer): it reads the answers here, and names are looked up off its thread.
///
/// A literal address is read at once, as the connection reads it. A name is looked up, on a
/// dispatch queue, when a listener starts (``prefetch(_:)``) and again when it is asked for more
/// than ``refreshAfter`` after its last answer: one lookup per name at a time, its answer
/// serving from the next ask on. So a name that comes to resolve to this machine (a DNS change)
/// is seen at most ``refreshAfter``, plus one lookup, after connections start asking about it.
final class UpstreamAddresses: Sendable {
    private struct Key: Hashable {
        let host: String
        let port: UInt16
    }

    private struct Entry {
        /// The last answer (none before the first).
        var addresses: [SocketAddress] = []
        /// When it came; nil before the first.
        var resolvedAt: ContinuousClock.Instant?
        /// Whether a lookup is under way.
        var resolving = false
    }

    /// How long an answer serves before the next ask looks the name up again.
    let refreshAfter: Duration
    private let entries = Mutex<[Key: Entry]>([:])
    private let resolve: @Sendable (_ host: String, _ port: UInt16) -> [SocketAddress]
    private let now: @Sendable () -> ContinuousClock.Instant

    /// `resolve` blocks and is called only on a dispatch queue; `now` is the clock answers age by.
    init(refreshAfter: Duration, resolve: @escaping @Sendable (_ host: String, _ port: UInt16) -> [SocketAddress],
         now: @escaping @Sendable () -> ContinuousClock.Instant) {
        self.refreshAfter = refreshAfter
        self.resolve = resolve
        self.now = now
    }

    /// The addresses `upstream`'s host had at its last lookup (none before the first answer);
    /// never waits. Starts a lookup when none has answered yet or the answer is older than
    /// ``refreshAfter``, unless one is under way.
    func addresses(of upstream: PeerAddress) -> [SocketAddress] {
        if upstream.host.isEmpty || SocketAddress(numericHost: upstream.host, port: upstream.port) != nil {
            // Read without a lookup (every interface for an empty host or `::`).
            return (try? SocketAddress.resolve(host: upstream.host, port: upstream.port)) ?? []
        }
        let key = Key(host: upstream.host, port: upstream.port)
        let asked = now()
        let (addresses, lookUp) = entries.withLock { entries -> ([SocketAddress], Bool) in
            var entry = entries[key, default: Entry()]
            let stale = entry.resolvedAt.map { $0.advanced(by: refreshAfter) <= asked } ?? true
            guard stale, !entry.resolving else { return (entry.addresses, false) }
            entry.resolving = true
            entries[key] = entry
            return (entry.addresses, true)
        }
        if lookUp { lookUpInBackground(key) }
        return addresses
    }

    /// Starts looking `upstream`'s host up unless an answer is fresh: for a listener's upstreams
    /// as it starts, so the answers are in before its first connection.
    func prefetch(_ upstream: PeerAddress) {
        _ = addresses(of: upstream)
    }

    private func lookUpInBackground(_ key: Key) {
        // A queue of its own, as SocketAddress.resolveAsync does: a lookup may block for seconds.
        DispatchQueue(label: "disco.sidecar.upstream-lookup").async { [self] in
            let answer = resolve(key.host, key.port)
            let answered = now()
            entries.withLock { $0[key] = Entry(addresses: answer, resolvedAt: answered, resolving: false) }
        }
    }
}
