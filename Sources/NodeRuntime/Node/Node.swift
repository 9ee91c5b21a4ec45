import Bootstrap
import DiscoAuth
import DiscoCore
import DiscoNet
import Synchronization

// MARK: - Node

/// A running Disco node: Raft among the voters, SWIM among everyone, cluster formation, and the
/// HTTP API, composed around one data directory.
///
/// Start with ``start(_:)``; stop with ``shutdown()`` (what `discod` does on SIGTERM). All
/// parts are reached through protocols (``ConsensusEngine``, ``MembershipService``,
/// ``ClusterStore``), so an engine can be replaced without touching the rest.
public final class Node: Sendable {
    public let id: NodeID
    public let settings: NodeSettings
    let logger: Logger
    let directory: NodeDataDirectory
    let book: AddressBook
    let store: any ClusterStore
    let consensus: any ConsensusEngine
    let membership: any MembershipService
    let client: HTTPClient
    /// Access control in front of the API router (open without `-auth`).
    let authorization: APIAuthorization
    /// The `Authorization` header this node sends as `-join-as` (nil without it).
    let joinCredentials: String?
    /// SHA-256 of this node's key (see ``NodeDataDirectory/nodeKey``).
    let keyHash: [UInt8]
    /// TLS for the API, the clients to other nodes and the internode port (``NodeTLS/none`` without).
    public let tls: NodeTLS
    let metrics = NodeMetrics()
    let runtime = Mutex(RuntimeState())
    /// Serializes membership changes (joins, removals, reconciliation) on the leader.
    let membershipChanges = AsyncLock()
    private let stopped = Completion()

    var options: DiscodOptions { settings.options }

    /// The advertised addresses of this node (bind addresses resolved when a port was 0).
    public let raftAddress: PeerAddress
    public let apiAddress: PeerAddress

    // MARK: Starting

    /// Opens the data directory, starts the engines (by default embedded Raft and SWIM on the
    /// internode address, see ``NodeComponents/embedded``), the HTTP API, then forms or rejoins
    /// the cluster in the background.
    public static func start(_ settings: NodeSettings,
                             components makeComponents: NodeComponents.Factory = NodeComponents.embedded) async throws -> Node {
        var settings = settings
        let options = settings.options
        let logger = settings.logger
        if settings.tls == nil { settings.tls = try NodeTLS.load(options, logger: logger) }
        let authorization: APIAuthorization
        do {
            authorization = try APIAuthorization(auth: options.auth)
        } catch {
            throw NodeStartupError("cannot set up access control (-auth): \(error)")
        }
        let directory = try NodeDataDirectory(path: options.dataDirectory, nodeID: options.nodeID)
        try checkRemoval(directory, options: options, logger: logger)
        let keyHash: [UInt8]
        do {
            keyHash = try directory.nodeKey.hash()
        } catch {
            throw NodeStartupError("cannot hash the node key: \(error)")
        }
        let book = AddressBook(local: options.nodeID, raftAddress: options.raftAdvertisedAddress.withoutScheme,
                               apiAddress: options.httpAdvertisedAddress.withoutScheme, voter: !options.raftNonVoter, keyHash: keyHash)
        let components = try await makeComponents(settings, directory, book)
        let store = components.store
        let raftAddress = components.internodeAddress
        let node = Node(settings: settings, directory: directory, book: book, store: store,
                        consensus: components.consensus, membership: components.membership, raftAddress: raftAddress,
                        apiAddress: options.httpAdvertisedAddress.withoutScheme, authorization: authorization, keyHash: keyHash)
        do {
            try await node.startHTTP()
        } catch {
            await node.stopComponents(transferLeadership: false)
            throw NodeStartupError("cannot serve the HTTP API on \(options.httpAddress): \(error)")
        }
        book.updateLocal(raftAddress: raftAddress, apiAddress: node.apiAddress)
        let internodeTLS = node.tls.internodeServer == nil ? "" : " (TLS\(options.nodeTLS.verifyClient ? ", mutual" : ""))"
        logger.info("node \(options.nodeID) started: API \(node.apiURL), Raft and SWIM \(raftAddress)\(internodeTLS), data \(directory.path)")
        if let auth = options.auth {
            logger.info("access control: \(auth.users.count) users from \(auth.path); anonymous callers may "
                + (auth.anonymousPermissions.isEmpty ? "do nothing" : auth.anonymousPermissions.sorted().map(\.rawValue).joined(separator: ", ")))
        } else {
            logger.warning("the HTTP API is open: anyone who can reach \(node.apiURL) may join, remove members, read "
                + "and append events; start with -auth FILE to require credentials")
        }
        node.startBackgroundWork()
        return node
    }

    private init(settings: NodeSettings, directory: NodeDataDirectory, book: AddressBook, store: any ClusterStore,
                 consensus: any ConsensusEngine, membership: any MembershipService, raftAddress: PeerAddress,
                 apiAddress: PeerAddress, authorization: APIAuthorization, keyHash: [UInt8]) {
        id = settings.options.nodeID
        self.settings = settings
        logger = settings.logger
        self.directory = directory
        self.book = book
        self.store = store
        self.consensus = consensus
        self.membership = membership
        self.raftAddress = raftAddress
        self.apiAddress = apiAddress
        self.authorization = authorization
        self.keyHash = keyHash
        joinCredentials = CredentialStore.authorization(for: settings.options.joinAs)
        tls = settings.tls ?? .none
        var clientConfiguration = HTTPClientConfiguration(connectTimeout: .seconds(2), requestTimeout: .seconds(10))
        if let apiClient = tls.apiClient { clientConfiguration.httpsTransport = TLSTransportFactory(apiClient) }
        client = HTTPClient(configuration: clientConfiguration)
    }

    /// The scheme of this node's API and its peers' (`https` with `-http-cert`).
    var apiScheme: PeerAddress.Scheme { tls.apiScheme }

    /// This node's API as a URL (`https://…` when it serves TLS).
    public var apiURL: String { apiURL(for: apiAddress) }

    /// A node's API address as a URL: its own scheme when it names one, else this node's.
    func apiURL(for address: PeerAddress) -> String { withAPIScheme(address).url }

    /// `address` with this node's API scheme unless it names one.
    func withAPIScheme(_ address: PeerAddress) -> PeerAddress {
        PeerAddress(host: address.host, port: address.port, scheme: address.scheme ?? apiScheme)
    }

    /// The advertised address, with the OS-chosen port filled in when the bind port was 0.
    static func advertised(_ advertised: PeerAddress, bound: PeerAddress) -> PeerAddress {
        PeerAddress(host: advertised.host, port: advertised.port == 0 ? bound.port : advertised.port)
    }

    private func startHTTP() async throws {
        var configuration = HTTPServerConfiguration(host: options.httpAddress.host, port: options.httpAddress.port)
        if let apiServer = tls.apiServer { configuration.transport = TLSTransportFactory(apiServer) }
        configuration.logger = logger.withLabel("http")
        let metrics = self.metrics
        let countStatus = HTTPStatusCounting { metrics.countRequest(status: $0) }
        let server = try await HTTPServer.start(configuration: configuration, middleware: [countStatus]) { [weak self] request in
            guard let self else { return APIResponse.error(503, "the node is shutting down") }
            return await self.handle(request)
        }
        runtime.withLock { $0.httpServer = server }
    }

    // MARK: Reloading

    /// Re-reads what may change while the node runs: the gossip keyring file, TLS certificates
    /// and keys. `discod` calls this on SIGHUP; a file that cannot be used is logged and what is
    /// in use stays.
    public func reload() {
        logger.info("reloading the gossip keyring and TLS certificates")
        membership.reload()
        reloadTLS()
    }

    // MARK: Stopping

    /// Waits until the node has stopped (after ``shutdown()`` or a fatal formation error).
    /// Returns the exit status `discod` should use.
    public func waitUntilStopped() async -> Int32 { await stopped.wait() }

    /// Graceful stop: a leader hands leadership over, the node leaves SWIM, Raft flushes, the
    /// HTTP API drains. Bounded by ``NodeSettings/shutdownGrace``.
    public func shutdown(exitStatus: Int32 = 0) async {
        let first = runtime.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.stopping = true
            return true
        }
        guard first else { _ = await stopped.wait(); return }
        logger.info("shutting down")
        let tasks = runtime.withLock { state in
            defer { state.tasks.removeAll() }
            return state.tasks
        }
        tasks.forEach { $0.cancel() }
        await stopComponents(transferLeadership: true)
        logger.info("stopped")
        stopped.complete(exitStatus)
    }

    private func stopComponents(transferLeadership: Bool) async {
        let (keeper, server) = runtime.withLock { ($0.keeper, $0.httpServer) }
        await keeper?.shutdown()
        await consensus.shutdown(transferLeadership: transferLeadership)
        await membership.leave()
        await membership.shutdown()
        await server?.shutdown(gracePeriod: .seconds(2))
        await client.shutdown()
    }

    /// Stops the node after a fatal error (formation gave up), exiting with status 1.
    func fail(_ message: String) async {
        runtime.withLock {
            $0.formation = .failed
            $0.formationDetail = message
        }
        logger.error(message)
        await shutdown(exitStatus: 1)
    }

    /// Runs `body` as background work cancelled at shutdown.
    func spawn(_ body: @escaping @Sendable () async -> Void) {
        let task = Task { await body() }
        let stopping = runtime.withLock { state -> Bool in
            if !state.stopping { state.tasks.append(task) }
            return state.stopping
        }
        if stopping { task.cancel() }
    }

    var isStopping: Bool { runtime.withLock { $0.stopping } }
}
