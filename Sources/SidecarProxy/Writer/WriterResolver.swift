import DiscoCore
import DiscoNet
import Sidecar
import Synchronization

// MARK: - Finding the writer

/// Where writes go: the cluster's writer as this sidecar knows it right now. The Raft leader's
/// sidecar today; the hot replica once hot/cold exists (another implementation).
public protocol WriterResolver: Sendable {
    /// The writer, without waiting (the proxy asks on every write).
    var current: WriterLocation { get }

    /// Whether a request from `host` carrying ``RoutingDecision/hopHeader`` may be another
    /// sidecar's: then the forwarding headers it carries (`X-Forwarded-Proto`, `-Host`) are kept;
    /// from anywhere else they are replaced by this proxy's view of the client.
    func trustsHop(from host: String) -> Bool

    /// The cluster's sidecars that announced a proxy, by node ID (current members only, this
    /// node included): where shared rate-limit counts go, and whose counts are taken.
    func sidecarProxies() -> [String: ProxyAnnouncement]
}

/// A writer that never changes (tests, and a sidecar that is its own writer).
public struct FixedWriter: WriterResolver {
    public let current: WriterLocation
    /// Hosts whose hops are trusted; nil trusts every host.
    public let peers: SidecarPeers?

    /// The sidecars ``sidecarProxies()`` names.
    public let sidecars: [String: ProxyAnnouncement]

    public init(_ location: WriterLocation, peers: SidecarPeers? = nil, sidecars: [String: ProxyAnnouncement] = [:]) {
        current = location
        self.peers = peers
        self.sidecars = sidecars
    }

    public func trustsHop(from host: String) -> Bool { peers?.contains(host) ?? true }

    public func sidecarProxies() -> [String: ProxyAnnouncement] { sidecars }
}
