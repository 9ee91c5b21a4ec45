import DiscoCore
import DiscoLifecycle
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
final class SidecarRole: Role {
    let name = "sidecar"
    private let configuration: ProxyConfiguration
    private let keys: any APIKeyStore
    private let replicated = ReplicatedAPIKeys()
    private let server = Mutex<SidecarProxyServer?>(nil)

    /// - Parameter fileKeys: the keys of `-api-key-file`; nil uses the cluster's.
    init(configuration: ProxyConfiguration, fileKeys: InMemoryAPIKeyStore?) {
        self.configuration = configuration
        keys = fileKeys ?? replicated
    }

    var routes: [APIRoute] { replicated.routes }

    func run(_ context: RoleContext) async throws {
        replicated.attach(context.node)
        let writer = ClusterWriterResolver(proxyPort: configuration.listenAddress?.port ?? 0)
        let proxy = try await SidecarProxyServer.start(
            configuration: configuration, nodeID: context.nodeID.rawValue, writer: writer, keys: keys, logger: context.logger,
            background: [{ await writer.follow(context) }])
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
    }
    private let view = Mutex(View())

    init(proxyPort: UInt16) {
        self.proxyPort = proxyPort
    }

    var current: WriterLocation {
        let view = view.withLock { $0 }
        guard let leadership = view.leadership, let leader = leadership.leader else {
            return .unknown(reason: "the cluster has no leader")
        }
        if leadership.isLocal { return .local }
        guard let member = view.members.first(where: { $0.id == leader }) else {
            return .unknown(reason: "the leader \(leader) is not in this node's member records yet")
        }
        let api = member.apiAddress.split(separator: "/").last.map(String.init) ?? member.apiAddress
        guard let address = try? PeerAddress(parsing: api) else {
            return .unknown(reason: "the leader's API address \(member.apiAddress.debugDescription) is not host:port")
        }
        return .remote(address: PeerAddress(host: address.host, port: proxyPort).description, id: leader.rawValue)
    }

    /// Follows leadership and membership until the node stops or the task is cancelled.
    func follow(_ context: RoleContext) async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await leadership in context.leadershipChanges() { self.view.withLock { $0.leadership = leadership } }
            }
            group.addTask {
                for await members in context.membershipChanges() { self.view.withLock { $0.members = members } }
            }
        }
    }
}
