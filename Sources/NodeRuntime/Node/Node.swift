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
    /// What the node was started with.
    public let configuration: NodeConfiguration
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
    let metrics = NodeMetrics()
    let runtime = Mutex(RuntimeState())
    /// Serializes membership changes (joins, removals, reconciliation) on the leader.
    let membershipChanges = AsyncLock()
    private let stopped = Completion()

    /// The advertised addresses of this node (bind addresses resolved when a port was 0).
    public let raftAddress: PeerAddress
    public let apiAddress: PeerAddress

    // MARK: Starting

    /// Opens the data directory, starts the engines (by default embedded Raft and SWIM on the
    /// internode address, see ``NodeComponents/embedded``), the HTTP API, then forms or rejoins
    /// the cluster in the background.
    public static func start(_ configuration: NodeConfiguration, logger: Logger,
                             components makeComponents: NodeComponents.Factory = NodeComponents.embedded) async throws -> Node {
        do {
            try configuration.validate()
        } catch {
            throw NodeStartupError("\(error)")
        }
        let authorization: APIAuthorization
        do {
            authorization = try APIAuthorization(auth: configuration.access.auth)
        } catch {
            throw NodeStartupError("cannot set up access control (-auth): \(error)")
        }
        let directory = try NodeDataDirectory(path: configuration.dataDirectory, nodeID: configuration.nodeID)
        try checkRemoval(directory, configuration: configuration, logger: logger)
        let keyHash: [UInt8]
        do {
            keyHash = try directory.nodeKey.hash()
        } catch {
            throw NodeStartupError("cannot hash the node key: \(error)")
        }
        let book = AddressBook(local: configuration.nodeID, raftAddress: configuration.internode.effectiveAdvertisedAddress.withoutScheme,
                               apiAddress: configuration.api.effectiveAdvertisedAddress.withoutScheme, voter: configuration.cluster.voter, keyHash: keyHash)
        let components = try await makeComponents(NodeComponents.Context(configuration: configuration, logger: logger,
                                                                         directory: directory, book: book))
        let store = components.store
        let raftAddress = components.internodeAddress
        let node = Node(configuration: configuration, logger: logger, directory: directory, book: book, store: store,
                        consensus: components.consensus, membership: components.membership, raftAddress: raftAddress,
                        apiAddress: configuration.api.effectiveAdvertisedAddress.withoutScheme, authorization: authorization, keyHash: keyHash)
        do {
            try await node.startHTTP()
        } catch {
            await node.stopComponents(transferLeadership: false)
            throw NodeStartupError("cannot serve the HTTP API on \(configuration.api.bindAddress): \(error)")
        }
        book.updateLocal(raftAddress: raftAddress, apiAddress: node.apiAddress)
        logger.info("node \(configuration.nodeID) started: API \(node.apiAddress.url), Raft and SWIM \(raftAddress), data \(directory.path)")
        if let auth = configuration.access.auth {
            logger.info("access control: \(auth.users.count) users from \(auth.path); anonymous callers may "
                + (auth.anonymousPermissions.isEmpty ? "do nothing" : auth.anonymousPermissions.sorted().map(\.rawValue).joined(separator: ", ")))
        } else {
            logger.warning("the HTTP API is open: anyone who can reach \(node.apiAddress.url) may join, remove members, read "
                + "and append events; start with -auth FILE to require credentials")
        }
        node.startBackgroundWork()
        return node
    }

    private init(configuration: NodeConfiguration, logger: Logger, directory: NodeDataDirectory, book: AddressBook, store: any ClusterStore,
                 consensus: any ConsensusEngine, membership: any MembershipService, raftAddress: PeerAddress,
                 apiAddress: PeerAddress, authorization: APIAuthorization, keyHash: [UInt8]) {
        id = configuration.nodeID
        self.configuration = configuration
        self.logger = logger
        self.directory = directory
        self.book = book
        self.store = store
        self.consensus = consensus
        self.membership = membership
        self.raftAddress = raftAddress
        self.apiAddress = apiAddress
        self.authorization = authorization
        self.keyHash = keyHash
        joinCredentials = CredentialStore.authorization(for: configuration.access.joinAs)
        client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), requestTimeout: .seconds(10)))
    }

    /// The advertised address, with the OS-chosen port filled in when the bind port was 0.
    static func advertised(_ advertised: PeerAddress, bound: PeerAddress) -> PeerAddress {
        PeerAddress(host: advertised.host, port: advertised.port == 0 ? bound.port : advertised.port)
    }

    private func startHTTP() async throws {
        let configuration = HTTPServerConfiguration(host: configuration.api.bindAddress.host, port: configuration.api.bindAddress.port)
        let server = try await HTTPServer.start(configuration: configuration) { [weak self] request in
            guard let self else { return APIResponse.error(503, "the node is shutting down") }
            return await self.handle(request)
        }
        runtime.withLock { $0.httpServer = server }
    }

    // MARK: Stopping

    /// Waits until the node has stopped (after ``shutdown()`` or a fatal formation error).
    /// Returns the exit status `discod` should use.
    public func waitUntilStopped() async -> Int32 { await stopped.wait() }

    /// Graceful stop: a leader hands leadership over, the node leaves SWIM, Raft flushes, the
    /// HTTP API drains. Bounded by ``NodeConfiguration/Timing-swift.struct/shutdownGrace``.
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
