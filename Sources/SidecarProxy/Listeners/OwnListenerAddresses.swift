import DiscoCore
import DiscoNet

// MARK: - Upstream addresses that would reach the proxy itself

/// The upstream addresses one of the sidecar's listeners (the HTTP listener, or a TCP listener)
/// must not connect to: those it is bound to itself (and this machine's interface addresses
/// when it listens on every interface, ``SocketAddress/reaches(listener:local:)``), and those of
/// another listener of the same sidecar whose connections lead back to it
/// (``SidecarListeners/loop(from:to:)``). The start refuses such upstreams, but a name may come
/// to resolve to this machine later (a DNS change); each request (or TCP connection) would then
/// be passed to the listener again, hop after hop, each hop holding a connection, until a limit
/// ran out. Asked only when a new connection is opened, never per request on a pooled one.
///
/// Nothing is excluded until ``listening(on:)`` is told where the listener was bound.
final class OwnListenerAddresses: ConnectAddressFilter {
    /// Every listener of the sidecar this one belongs to.
    let listeners: SidecarListeners
    /// This listener's place among them.
    private let index: Int

    /// Adds the listener called `name`, which passes connections to `upstreams`, to `listeners`.
    init(name: String, upstreams: [PeerAddress], among listeners: SidecarListeners = SidecarListeners()) {
        self.listeners = listeners
        index = listeners.add(name: name, upstreams: upstreams)
    }

    /// The listener was bound to `addresses` (the ports the kernel chose for port 0).
    func listening(on addresses: [SocketAddress]) {
        listeners.listening(index, on: addresses)
    }

    func excludes(_ address: SocketAddress) -> Bool {
        listeners.loop(from: index, to: address) != nil
    }

    func reason(excluding excluded: [SocketAddress]) -> String {
        let own = listeners.listener(index)
        let ownText = "\(own.name) (\(own.addresses.map(\.description).joined(separator: ", ")))"
        guard let path = excluded.lazy.compactMap({ self.listeners.loop(from: self.index, to: $0) }).first, path.count > 1 else {
            return "which the proxy's own listener (\(own.addresses.map(\.description).joined(separator: ", "))) accepts: "
                + "each connection would come back to the proxy again and again"
        }
        let hops = path.dropLast().map { hop in
            let listener = listeners.listener(hop)
            return "\(listener.name) (\(listener.addresses.map(\.description).joined(separator: ", ")))"
        }
        return "which \(hops.joined(separator: ", then ")) of the same sidecar accepts and passes back to \(ownText): "
            + "each connection would go round the sidecar's listeners again and again"
    }
}
