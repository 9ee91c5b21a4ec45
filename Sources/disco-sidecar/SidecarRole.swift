import DiscoCore
import DiscoLifecycle
import DiscoNet
import HotColdNode
import NodeRuntime
import Sidecar
import SidecarProxy
import Synchronization

// MARK: - The proxy as the node's `sidecar` role

/// Runs the proxy inside the node: started once the node's API and engines run, asked to stop
/// before the node hands leadership over and leaves (then it drains within
/// `-proxy-drain-timeout`). The node's `/readyz` answers 503 while the proxy is not ready (an
/// unhealthy upstream, no known writer), its `/metrics` carries the proxy's metrics, and its
/// member record and gossip announce the `sidecar` role.
///
/// API keys are the cluster's (``ReplicatedAPIKeys``: `POST/GET/DELETE /keys` on the node's API)
/// unless `-api-key-file` names a file.
///
/// With `-hot-cold` (a ``HotColdRole`` beside it) the writer is the group's hot replica, every
/// request to the local upstream passes ``HotColdUpstreamFencing`` (the fencing token), and the
/// upstreams' health checks tell the lease whether this replica may be hot.
final class SidecarRole: Role {
    let name = "sidecar"
    private let configuration: ProxyConfiguration
    private let keys: any APIKeyStore
    private let replicated = ReplicatedAPIKeys()
    private let server = Mutex<SidecarProxyServer?>(nil)
    private let hotCold: HotColdRole?

    /// - Parameters:
    ///   - fileKeys: the keys of `-api-key-file`; nil uses the cluster's.
    ///   - hotCold: the node's hot/cold role with `-hot-cold`, else nil (writes go to the leader's sidecar).
    init(configuration: ProxyConfiguration, fileKeys: InMemoryAPIKeyStore?, hotCold: HotColdRole? = nil) {
        self.configuration = configuration
        keys = fileKeys ?? replicated
        self.hotCold = hotCold
    }

    var routes: [APIRoute] { replicated.routes }

    func run(_ context: RoleContext) async throws {
        replicated.attach(context.node)
        let proxyPort = configuration.listenAddress?.port ?? 0
        let proxy: SidecarProxyServer
        if let hotCold {
            let writer = HotColdWriterResolver(role: hotCold, proxyPort: proxyPort)
            proxy = try await SidecarProxyServer.start(
                configuration: configuration, nodeID: context.nodeID.rawValue, writer: writer, keys: keys, logger: context.logger,
                upstreamMiddleware: [HotColdUpstreamFencing(role: hotCold)],
                healthChanged: { healthy in hotCold.setUpstreamHealthy(healthy) },
                background: [{ await writer.follow(context) }])
        } else {
            let writer = ClusterWriterResolver(proxyPort: proxyPort)
            proxy = try await SidecarProxyServer.start(
                configuration: configuration, nodeID: context.nodeID.rawValue, writer: writer, keys: keys, logger: context.logger,
                background: [{ await writer.follow(context) }])
        }
        server.withLock { $0 = proxy }
        do {
            try await gracefulShutdown()
            context.logger.info("draining the proxy, then leaving the cluster",
                                metadata: ["drain_timeout": .string(GoDuration.format(configuration.drainTimeout))])
            await proxy.drain(within: configuration.drainTimeout)
            context.logger.info("proxy drained; stopping the node")
        } catch {
            context.logger.info("proxy stopping without draining: \(error)")
        }
        await proxy.shutdown()
    }

    func readinessProblem() async -> String? {
        guard let proxy = server.withLock({ $0 }) else { return "the proxy has not started" }
        return proxy.readinessProblem.map { "proxy: \($0)" }
    }

    func metricLines() async -> [String] {
        guard let proxy = server.withLock({ $0 }) else { return [] }
        return proxy.metricsText(process: false).split(separator: "\n").map(String.init)
    }
}

// MARK: - The writer, from the node's own view of the cluster

/// The Raft leader's sidecar, followed from the node's leadership changes and member records:
/// at the leader's API host and this sidecar's proxy port (every sidecar of a cluster uses the
/// same `-proxy-addr` port, as the pods of a StatefulSet do).
final class ClusterWriterResolver: WriterResolver {
    private let proxyPort: UInt16
    private struct View {
        var leadership: ConsensusLeadership?
        var members: [ClusterMember] = []
        /// Worked out at each change, so the proxy's per-request read is one lock and a copy.
        var location = WriterLocation.unknown(reason: "the cluster has no leader")
    }
    private let view = Mutex(View())

    init(proxyPort: UInt16) {
        self.proxyPort = proxyPort
    }

    var current: WriterLocation { view.withLock { $0.location } }

    /// Follows leadership and membership until the node stops or the task is cancelled.
    func follow(_ context: RoleContext) async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await leadership in context.leadershipChanges() {
                    self.update { $0.leadership = leadership }
                }
            }
            group.addTask {
                for await members in context.membershipChanges() {
                    self.update { $0.members = members }
                }
            }
        }
    }

    private func update(_ change: (inout View) -> Void) {
        view.withLock { view in
            change(&view)
            view.location = Self.locate(view, proxyPort: proxyPort)
        }
    }

    private static func locate(_ view: View, proxyPort: UInt16) -> WriterLocation {
        guard let leadership = view.leadership, let leader = leadership.leader else {
            return .unknown(reason: "the cluster has no leader")
        }
        if leadership.isLocal { return .local }
        guard let member = view.members.first(where: { $0.id == leader }) else {
            return .unknown(reason: "the leader \(leader) is not in this node's member records yet")
        }
        return MemberProxyAddresses.location(of: member, proxyPort: proxyPort)
    }
}
