import DiscoCore
import DiscoNet
import Synchronization

// MARK: - Every listener of one sidecar

/// The sidecar's listeners (the HTTP proxy's and each `-tcp-proxy` one): where each is bound and
/// where it passes its connections. A connection one of them opens must not come back to it,
/// directly (an upstream that resolves to the listener itself) or round other listeners of the
/// sidecar (the HTTP proxy's upstream resolving to a TCP listener whose upstream is the HTTP
/// proxy): each connection would open another, round and round, until a limit ran out. The
/// start refuses such upstreams (``SelfConnectionCheck``), but a name may come to resolve to this
/// machine later (a DNS change).
///
/// A chain that does not come back (the HTTP proxy's upstream a TCP listener of the sidecar
/// whose upstream is elsewhere) is left alone, as the start leaves it. The check never waits for
/// a name lookup: upstream names are looked up as each listener starts and, off the connecting
/// thread, again once their answer is older than a refresh interval (``UpstreamAddresses``).
final class SidecarListeners: Sendable {
    struct Listener: Sendable {
        /// How an error names it, e.g. `the HTTP proxy's listener`, `-tcp-proxy :27017=db:27017`.
        let name: String
        /// Where it is bound (empty until it is).
        var addresses: [SocketAddress] = []
        /// Where it passes connections (each upstream, for the HTTP proxy).
        let upstreams: [PeerAddress]
    }

    private struct State {
        var listeners: [Listener] = []
        /// This machine's interface addresses, read once a listener is on every interface.
        var interfaces: [SocketAddress] = []
    }

    private let state = Mutex(State())
    /// The upstreams' addresses as last resolved.
    private let upstreamAddresses: UpstreamAddresses

    /// How long an upstream name's answer serves before a connection that reaches a listener
    /// has it looked up again.
    static let upstreamRefreshInterval = Duration.seconds(1)

    /// `resolve` finds the addresses an upstream's host has now (the proxy's own resolver, by
    /// default: the one it connects with); it blocks, so it runs only on a dispatch queue. An
    /// answer serves for `refreshAfter` by `now`.
    init(resolve: @escaping @Sendable (_ host: String, _ port: UInt16) -> [SocketAddress] = {
        (try? SocketAddress.resolve(host: $0, port: $1)) ?? []
    }, refreshAfter: Duration = upstreamRefreshInterval, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        upstreamAddresses = UpstreamAddresses(refreshAfter: refreshAfter, resolve: resolve, now: now)
    }

    /// Adds a listener, not bound yet; its index for the calls below.
    func add(name: String, upstreams: [PeerAddress]) -> Int {
        state.withLock { state in
            state.listeners.append(Listener(name: name, upstreams: upstreams))
            return state.listeners.count - 1
        }
    }

    /// Listener `index` was bound to `addresses` (the ports the kernel chose for port 0). Its
    /// upstreams' names are looked up now, in the background.
    func listening(_ index: Int, on addresses: [SocketAddress]) {
        let everyInterface = addresses.contains { $0.isUnspecified }
        let needsInterfaces = everyInterface && state.withLock { $0.interfaces.isEmpty }
        let interfaces = needsInterfaces ? SocketAddress.interfaceAddresses() : []
        let upstreams = state.withLock { state in
            state.listeners[index].addresses = addresses
            if needsInterfaces { state.interfaces = interfaces }
            return state.listeners[index].upstreams
        }
        upstreams.forEach(upstreamAddresses.prefetch)
    }

    /// The listener named by `index` and its bound addresses.
    func listener(_ index: Int) -> Listener { state.withLock { $0.listeners[index] } }

    // MARK: Connections coming back

    /// The listeners a connection from listener `origin` to `address` would pass through before
    /// it came back to `origin` (`[origin]`: `address` is `origin`'s own; `[tcp, origin]`: a
    /// TCP listener's, whose upstream is `origin`), or nil when it would not come back. Upstream
    /// names count with the addresses they last resolved to; nothing here waits for a lookup.
    func loop(from origin: Int, to address: SocketAddress) -> [Int]? {
        let (first, listeners, interfaces) = state.withLock { state in
            (Self.reached(by: address, state.listeners, state.interfaces), state.listeners, state.interfaces)
        }
        // The common case: an address no listener of the sidecar accepts; no upstream read.
        guard !first.isEmpty else { return nil }
        var visited: Set<Int> = []
        func walk(_ reached: [Int], _ path: [Int]) -> [Int]? {
            if reached.contains(origin) { return path + [origin] }
            for index in reached where visited.insert(index).inserted {
                for upstream in listeners[index].upstreams {
                    for next in upstreamAddresses.addresses(of: upstream) {
                        if let found = walk(Self.reached(by: next, listeners, interfaces), path + [index]) { return found }
                    }
                }
            }
            return nil
        }
        return walk(first, [])
    }

    /// The indexes of the listeners that accept a connection to `address`.
    private static func reached(by address: SocketAddress, _ listeners: [Listener], _ interfaces: [SocketAddress]) -> [Int] {
        listeners.indices.filter { index in listeners[index].addresses.contains { address.reaches(listener: $0, local: interfaces) } }
    }
}
