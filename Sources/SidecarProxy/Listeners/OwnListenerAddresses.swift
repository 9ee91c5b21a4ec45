import DiscoNet
import Synchronization

// MARK: - Upstream addresses that would reach the proxy itself

/// The addresses one of the proxy's own listeners (the HTTP listener, or a TCP listener) is bound
/// to, and this machine's interface addresses when it listens on every interface: the connections
/// it passes on leave out any upstream address that reaches them (``SocketAddress/reaches(listener:local:)``). The start refuses an
/// upstream the proxy listens on, but a name may come to resolve to this machine later (a DNS
/// change); each request (or TCP connection) would then be passed to the listener again, hop
/// after hop, each hop holding a connection, until a limit ran out. Asked only when a new
/// connection is opened, never per request on a pooled one.
///
/// Empty (nothing excluded) until ``listening(on:)`` is told where the listener was bound.
final class OwnListenerAddresses: ConnectAddressFilter {
    private struct Bound {
        var listeners: [SocketAddress] = []
        /// This machine's interface addresses, read once when a listener is on every interface.
        var interfaces: [SocketAddress] = []
    }

    private let bound = Mutex(Bound())

    /// The listener was bound to `addresses` (the ports the kernel chose for port 0).
    func listening(on addresses: [SocketAddress]) {
        let interfaces = addresses.contains { $0.isUnspecified } ? SocketAddress.interfaceAddresses() : []
        bound.withLock { $0 = Bound(listeners: addresses, interfaces: interfaces) }
    }

    func excludes(_ address: SocketAddress) -> Bool {
        bound.withLock { bound in
            bound.listeners.contains { address.reaches(listener: $0, local: bound.interfaces) }
        }
    }

    func reason(excluding excluded: [SocketAddress]) -> String {
        let listeners = bound.withLock { $0.listeners }
        return "which the proxy's own listener (\(listeners.map(\.description).joined(separator: ", "))) accepts: "
            + "each connection would come back to the proxy again and again"
    }
}
