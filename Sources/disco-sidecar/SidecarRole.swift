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
/// `-proxy-drain-timeout`, counted with `-hot-cold` from when the hot/cold role was asked to
/// stop: that role stops first and waits for the hot's writes in flight meanwhile). The node's
/// `/readyz` answers 503 while the proxy is not ready (an unhealthy upstream, no known writer),
/// its `/metrics` carries the proxy's metrics, and its member record and gossip announce the
/// `sidecar` role.
///
/// API keys are the cluster's (``ReplicatedAPIKeys``: `POST/GET/DELETE /keys` on the node's API)
/// unless `-api-key-file` names a file.
final class SidecarRole: Role {
    let name = "sidecar"
    private let configuration: ProxyConfiguration
    private let keys: any APIKeyStore
    private let replicated: ReplicatedAPIKeys
    private let server = Mutex<SidecarProxyServer?>(nil)
    private let announced = Mutex<ProxyAnnouncement?>(nil)
    /// The node's advertised API host: announced for a proxy listening on every interface.
    private let apiHost: String
    private let hotCold: HotColdRole?
    private let hopKey: HopKey?

    /// - Parameters:
    ///   - fileKeys: the keys of `-api-key-file`; nil uses the cluster's.
    ///   - apiHost: the host of `-http-adv-addr`.
    ///   - hotCold: the node's hot/cold role with `-hot-cold`, else nil (writes go to the leader's sidecar).
    ///   - hopKey: `-proxy-hop-key`'s secret, proving hops and shared counts.
    init(configuration: ProxyConfiguration, fileKeys: InMemoryAPIKeyStore?, apiHost: String, hotCold: HotColdRole? = nil, hopKey: HopKey? = nil) {
        self.hopKey = hopKey
        self.configuration = configuration
        replicated = ReplicatedAPIKeys(file: fileKeys == nil ? nil : configuration.apiKeys.file, maxStaleness: configuration.apiKeys.maxStaleness)
        keys = fileKeys ?? replicated
        self.apiHost = apiHost
        self.hotCold = hotCold
    }

    var routes: [APIRoute] { replicated.routes }

    func run(_ context: RoleContext) async throws {
        replicated.attach(context.node)
        let writer = ClusterWriterResolver(hotCold: hotCold)
        let hops = hopKey.map { HopAuthenticator(key: $0, nodeID: context.nodeID.rawValue) }
        let proxy: SidecarProxyServer
        if let hotCold {
            proxy = try await SidecarProxyServer.start(
                configuration: configuration, nodeID: context.nodeID.rawValue, writer: writer, keys: keys, logger: context.logger,
                upstreamMiddleware: [HotColdUpstreamFencing(role: hotCold)],
                healthChanged: { healthy in hotCold.setUpstreamHealthy(healthy) }, hops: hops,
                background: [{ await writer.follow(context) }])
        } else {
            proxy = try await SidecarProxyServer.start(
                configuration: configuration, nodeID: context.nodeID.rawValue, writer: writer, keys: keys, logger: context.logger,
                hops: hops, background: [{ await writer.follow(context) }])
        }
        server.withLock { $0 = proxy }
        let announcement = proxy.localAddress.flatMap { configuration.announcement(boundPort: $0.port, apiHost: apiHost) }
        announced.withLock { $0 = announcement }
        await withDiscardingTaskGroup { group in
            if let announcement { group.addTask { await ProxyAnnouncer.announce(announcement, context) } }
            do {
                try await gracefulShutdown()
                // With -hot-cold the role stopped first, waiting for the hot's writes in flight
                // while the proxy kept serving: the drain timeout counts from then.
                let left = hotCold?.drainLeft(of: configuration.drainTimeout) ?? configuration.drainTimeout
                context.logger.info("draining the proxy, then leaving the cluster",
                                    metadata: ["drain_timeout": .string(GoDuration.format(left))])
                await proxy.drain(within: left)
                context.logger.info("proxy drained; stopping the node")
            } catch {
                context.logger.info("proxy stopping without draining: \(error)")
            }
            group.cancelAll()
        }
        await proxy.shutdown()
    }

    /// SIGHUP: the proxy's certificate, key and CA files are read again.
    func reload() {
        server.withLock { $0 }?.reloadTLS()
    }

    /// `roles.sidecar` in `/status`: the proxy URL this sidecar announces and where writes go now.
    func status() async -> JSONValue? {
        var object = JSONObject()
        if let announcement = announced.withLock({ $0 }) { object.append(key: "proxy_url", value: .string(announcement.url)) }
        if let proxy = server.withLock({ $0 }) {
            let writer: String = switch proxy.writer.current {
            case .local: "local"
            case .remote(let address, let id, let tls): "\(id) at \(tls ? "https" : "http")://\(address)"
            case .unknown(let reason): "unknown: \(reason)"
            }
            object.append(key: "writer", value: .string(writer))
        }
        return .object(object)
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

/// The writer's sidecar, at the proxy address it announced (``ProxyAnnouncement``), over HTTPS
/// when its proxy speaks only HTTPS: the Raft leader's, followed from the node's leadership
/// changes and the replicated state, or with `-hot-cold` the hot replica's
/// (``HotColdWriter``). Hops are trusted from the members' hosts (``SidecarPeers``).
final class ClusterWriterResolver: WriterResolver {
    private struct View {
        var leadership: ConsensusLeadership?
        var memberAddresses: [String] = []
        var memberIDs: Set<String> = []
        /// Worked out at each change, so the proxy's per-request read is one lock and a copy.
        var location = WriterLocation.unknown(reason: "the cluster has no leader")
        /// The hosts other sidecars send from (members' addresses, their announced proxies).
        var peers = SidecarPeers(memberAddresses: [], announcements: [])
        /// Each node's stored announcement, by node ID.
        var announcements: [String: [UInt8]] = [:]
        /// The members' decoded announcements, by node ID.
        var proxies: [String: ProxyAnnouncement] = [:]
    }
    private let view = Mutex(View())
    private let hotCold: HotColdRole?

    init(hotCold: HotColdRole? = nil) {
        self.hotCold = hotCold
    }

    var current: WriterLocation {
        guard let hotCold else { return view.withLock { $0.location } }
        return HotColdWriter.location(hotCold) { holder in view.withLock { $0.announcements[holder.rawValue] } }
    }

    func trustsHop(from host: String) -> Bool { view.withLock { $0.peers.contains(host) } }

    func sidecarProxies() -> [String: ProxyAnnouncement] { view.withLock { $0.proxies } }

    /// Follows leadership, membership and the announcements until the node stops or the task is
    /// cancelled.
    func follow(_ context: RoleContext) async {
        let node = context.node
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await leadership in context.leadershipChanges() {
                    self.update(node) { $0.leadership = leadership }
                }
            }
            group.addTask {
                for await members in context.membershipChanges() {
                    self.update(node) {
                        $0.memberAddresses = members.flatMap { [$0.apiAddress, $0.raftAddress] }
                        $0.memberIDs = Set(members.map(\.id.rawValue))
                    }
                }
            }
            group.addTask {
                // Announcements are key-value writes, which membership changes do not report.
                let watch = node.watchKeyValues(namespace: ProxyAnnouncement.namespace)
                self.update(node) { _ in }
                for await _ in watch.changes {
                    self.update(node) { _ in }
                }
            }
        }
    }

    /// Applies `change` and works out the writer and the peers again from the node's state.
    private func update(_ node: Node, _ change: (inout View) -> Void) {
        view.withLock { view in
            // Read under the view's lock (the store never takes it), so a slower update cannot
            // apply an older read over a newer one.
            let announcements = node.keyValues(namespace: ProxyAnnouncement.namespace).entries
            change(&view)
            view.announcements = Dictionary(announcements.map { ($0.key.name, $0.value) }, uniquingKeysWith: { _, last in last })
            view.proxies = [:]
            for (id, bytes) in view.announcements where view.memberIDs.contains(id) {
                if case .success(let announced) = ProxyAnnouncement.decode(bytes) { view.proxies[id] = announced }
            }
            // Only current members' announcements: a removed member's stays in the replicated
            // state, and its host (a pod IP given to another pod) must no longer claim hops.
            let members = view.announcements.filter { view.memberIDs.contains($0.key) }
            view.peers = SidecarPeers(memberAddresses: view.memberAddresses, announcements: Array(members.values))
            let leader = view.leadership?.leader
            let announcement = leader.flatMap { leader in announcements.first { $0.key.name == leader.rawValue }?.value }
            view.location = WriterLocation.locate(leader: leader?.rawValue, isLocal: view.leadership?.isLocal ?? false,
                                                  announcement: announcement)
        }
    }
}

// MARK: - Announcing this proxy

/// Records this sidecar's ``ProxyAnnouncement`` in the replicated state (key: the node ID),
/// retrying while no leader takes the write, and rewriting it when it differs (a pod back on a
/// new IP).
enum ProxyAnnouncer {
    static func announce(_ announcement: ProxyAnnouncement, _ context: RoleContext) async {
        let key = KVKey(ProxyAnnouncement.namespace, context.nodeID.rawValue)
        let bytes = announcement.encoded()
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            await context.waitUntilCaughtUp()
            let existing = context.node.keyValue(key)
            if existing?.value == bytes { return }
            let condition = existing.map { KVCondition(key, revision: $0.revision) } ?? .absent(key)
            do {
                switch try await context.node.transact(KVTransaction(conditions: [condition], operations: [.put(key, bytes)])) {
                case .committed:
                    context.logger.info("announced the proxy", metadata: ["url": .string(announcement.url)])
                    return
                case .conflict: continue
                case .refused(let reason): context.logger.warning("cannot announce the proxy at \(announcement): \(reason); retrying")
                }
            } catch {
                context.logger.warning("cannot announce the proxy at \(announcement) yet: \(error); retrying")
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }
}
