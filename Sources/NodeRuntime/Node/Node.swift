import Bootstrap
import DiscoAuth
import DiscoCore
import DiscoLifecycle
import DiscoNet
import DiscoSystem
import Synchronization

// MARK: - Node

/// A Disco node: Raft among the voters, SWIM among everyone, cluster formation, and the HTTP
/// API, composed around one data directory.
///
/// ``start(_:logger:components:)`` opens the data directory and binds the ports; ``run()`` (the
/// node is a ``Service``) forms or rejoins the cluster and runs until it is asked to shut down
/// gracefully (by its ``ServiceGroup``, or ``shutdown()``), then hands leadership over, leaves
/// and drains. Every task of the node is a child of `run()`. All parts are reached through
/// protocols (``ConsensusEngine``, ``MembershipService``, ``ClusterStore``), so an engine can be
/// replaced without touching the rest.
public final class Node: Service {
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
    /// Who a request comes from (open without `-auth`); the server's ``APIAccessControl`` applies it.
    let authorization: APIAuthorization
    /// The API's route table: the node's endpoints and its roles'.
    let router: APIRouter
    /// The plug-ins the node runs (``Role``).
    let roles: [any Role]
    /// The roles this node announces: the configured names and those of ``roles``, sorted.
    public let announcedRoles: [String]
    /// The `Authorization` header this node sends as `-join-as` (nil without it).
    let joinCredentials: String?
    /// SHA-256 of this node's key (see ``NodeDataDirectory/nodeKey``).
    let keyHash: [UInt8]
    /// TLS for the API, the clients to other nodes and the internode port (``NodeTLS/none`` without).
    public let tls: NodeTLS
    let metrics: NodeMetrics
    let runtime = Mutex(RuntimeState())
    /// Serializes membership changes (joins, removals, reconciliation) on the leader.
    let membershipChanges = AsyncLock()
    /// ``shutdown()`` asks here; `run()` passes it on to its service group.
    let stopRequest = StopRequest()
    /// The API's long polls, ended when the node begins to shut down.
    let longPolls = LongPolls()
    /// The API's cluster changes that run to their end when their client leaves
    /// (``APIRoute/runsToCompletion``): owned by the node, closed after the API server stops.
    let completingRequests = OwnedTasks()
    /// The rounds that learn a read index for ``readBarrier(timeout:)``, shared by concurrent calls.
    let readIndexRounds = SharedRounds<UInt64, ReplicatedStateError>(cancelled: {
        ReplicatedStateError(.unavailable, "stopped waiting for a read index: the request was cancelled")
    }, timedOut: {
        ReplicatedStateError(.unavailable, "no read index within the request's timeout: the round it waited for, "
            + "another request's, had not ended")
    }, sleep: { try await Task.sleep(until: $0, clock: .continuous) })
    /// The leader's quorum confirmations of its read index, shared by concurrent callers.
    let leadershipConfirmations = SharedRounds<UInt64, ReplicatedStateError>(cancelled: {
        ReplicatedStateError(.unavailable, "stopped waiting for a quorum to confirm the leader: the request was cancelled")
    }, timedOut: {
        ReplicatedStateError(.unavailable, "no quorum confirmed the leader within the request's timeout: the round it waited for, "
            + "another request's, had not ended")
    }, sleep: { try await Task.sleep(until: $0, clock: .continuous) })
    /// Opened once the node learns it was removed (it then stops after a linger).
    let removalNoticed = Latch()
    /// Opened once a live member performs every role of `cluster.bootstrapNeeds` (at once
    /// without any): the roles start then.
    let bootstrapNeedsMet = Latch()
    /// Subscribers to SWIM's view of members (``RoleContext/gossipChanges()``).
    let gossipSubscribers = GossipSubscribers()
    /// Seeds for SWIM to contact, taken by the gossip introducer (one join at a time).
    let gossipSeeds: AsyncStream<[PeerAddress]>
    let gossipSeedSink: AsyncStream<[PeerAddress]>.Continuation

    /// The advertised addresses of this node (bind addresses resolved when a port was 0).
    public let raftAddress: PeerAddress
    public let apiAddress: PeerAddress

    // MARK: Starting

    /// Opens the data directory, starts the engines (by default embedded Raft and SWIM on the
    /// internode address, see ``NodeComponents/embedded``) and the HTTP API. Nothing forms a
    /// cluster until ``run()``; a node that is never run holds its ports and data directory.
    /// `roles` run with the node (see ``Role``).
    public static func start(_ configuration: NodeConfiguration, logger: Logger,
                             components makeComponents: NodeComponents.Factory = NodeComponents.embedded,
                             roles: [any Role] = []) async throws -> Node {
        do {
            try configuration.validate()
        } catch {
            throw NodeStartupError("\(error)")
        }
        let announcedRoles = RoleNames.normalized(configuration.cluster.roles + roles.map(\.name))
        if let problem = RoleNames.problem(with: roles.map(\.name)) { throw NodeStartupError("a role cannot run: \(problem)") }
        if Set(roles.map(\.name)).count != roles.count { throw NodeStartupError("two roles have the same name: \(roles.map(\.name).sorted())") }
        if let problem = configuration.gossipMetadataProblem(extraRoles: roles.map(\.name)) {
            throw NodeStartupError("invalid node configuration: cluster.roles: \(problem)")
        }
        let router = try APIRouter(builtInRoutes + roles.flatMap(\.routes))
        let tls: NodeTLS
        do {
            tls = try configuration.tls.loaded ?? NodeTLS.load(configuration.tls, logger: logger)
        } catch {
            throw NodeStartupError("\(error)")
        }
        let authorization: APIAuthorization
        do {
            authorization = try APIAuthorization(auth: configuration.access.auth)
        } catch {
            throw NodeStartupError("cannot set up access control (-auth): \(error)")
        }
        // Opening the data directory may write and fsync (a first start, a new generation).
        let directory = try await BlockingWork.run("data-directory") { () throws(NodeStartupError) -> NodeDataDirectory in
            let directory = try NodeDataDirectory(path: configuration.dataDirectory, nodeID: configuration.nodeID)
            try checkRemoval(directory, configuration: configuration, logger: logger)
            return directory
        }
        let keyHash: [UInt8]
        do {
            keyHash = try directory.nodeKey.hash()
        } catch {
            throw NodeStartupError("cannot hash the node key: \(error)")
        }
        // The API listens first (answering 503 until the node exists), so the engines are told
        // the API address with the port the system chose when the configuration asks for port 0.
        let slot = NodeSlot()
        let metrics = NodeMetrics()
        let server: HTTPServer
        do {
            server = try await startHTTP(configuration.api.bindAddress, slot: slot, tls: tls, metrics: metrics,
                                         authorization: authorization, router: router, logger: logger)
        } catch {
            throw NodeStartupError("cannot serve the HTTP API on \(configuration.api.bindAddress): \(error)")
        }
        let apiAddress = advertised(configuration.api.effectiveAdvertisedAddress.withoutScheme,
                                    bound: PeerAddress(host: configuration.api.bindAddress.host, port: server.localAddress.port))
        let book = AddressBook(local: configuration.nodeID, raftAddress: configuration.internode.effectiveAdvertisedAddress.withoutScheme,
                               apiAddress: apiAddress, voter: configuration.cluster.voter, keyHash: keyHash,
                               generation: directory.generation)
        let components: NodeComponents
        do {
            components = try await makeComponents(NodeComponents.Context(configuration: configuration, logger: logger, directory: directory,
                                                                         book: book, apiAddress: apiAddress, roles: announcedRoles, tls: tls))
        } catch {
            await server.shutdown(gracePeriod: .zero)
            throw error
        }
        let raftAddress = components.internodeAddress
        let node = Node(configuration: configuration, logger: logger, directory: directory, book: book, store: components.store,
                        consensus: components.consensus, membership: components.membership, raftAddress: raftAddress,
                        apiAddress: apiAddress, authorization: authorization, keyHash: keyHash, router: router, roles: roles,
                        announcedRoles: announcedRoles, tls: tls, metrics: metrics)
        book.noteRoles(configuration.nodeID, announcedRoles)
        node.runtime.withLock { $0.httpServer = server }
        slot.install(node)
        book.updateLocal(raftAddress: raftAddress, apiAddress: node.apiAddress)
        let internodeTLS = node.tls.internodeServer == nil ? "" : " (TLS\(configuration.tls.internode.verifyClient ? ", mutual" : ""))"
        logger.info("node \(configuration.nodeID) started: API \(node.apiURL), Raft and SWIM \(raftAddress)\(internodeTLS), data \(directory.path)")
        if let auth = configuration.access.auth {
            logger.info("access control: \(auth.users.count) users from \(auth.path); anonymous callers may "
                + (auth.anonymousPermissions.isEmpty ? "do nothing" : auth.anonymousPermissions.sorted().map(\.rawValue).joined(separator: ", ")))
        } else {
            logger.warning("the HTTP API is open: anyone who can reach \(node.apiURL) may join, remove members, read "
                + "and append events; start with -auth FILE to require credentials")
        }
        node.prepareRecordKeeper()
        return node
    }

    private init(configuration: NodeConfiguration, logger: Logger, directory: NodeDataDirectory, book: AddressBook, store: any ClusterStore,
                 consensus: any ConsensusEngine, membership: any MembershipService, raftAddress: PeerAddress,
                 apiAddress: PeerAddress, authorization: APIAuthorization, keyHash: [UInt8], router: APIRouter, roles: [any Role],
                 announcedRoles: [String], tls: NodeTLS, metrics: NodeMetrics) {
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
        self.router = router
        self.roles = roles
        self.announcedRoles = announcedRoles
        self.tls = tls
        self.metrics = metrics
        joinCredentials = CredentialStore.authorization(for: configuration.access.joinAs)
        var clientConfiguration = HTTPClientConfiguration(connectTimeout: .seconds(2), requestTimeout: .seconds(10))
        if let apiClient = tls.apiClient { clientConfiguration.httpsTransport = TLSTransportFactory(apiClient) }
        client = HTTPClient(configuration: clientConfiguration)
        (gossipSeeds, gossipSeedSink) = AsyncStream.makeStream(of: [PeerAddress].self, bufferingPolicy: .bufferingNewest(8))
    }

    /// The scheme of this node's API and its peers' (`https` with TLS on the API).
    var apiScheme: PeerAddress.Scheme { tls.apiScheme }

    /// This node's API as a URL (`https://…` when it serves TLS).
    public var apiURL: String { apiURL(for: apiAddress) }

    /// A node's API address as a URL: its own scheme when it names one, else this node's.
    func apiURL(for address: PeerAddress) -> String { withAPIScheme(address).url }

    /// `address` with this node's API scheme unless it names one.
    func withAPIScheme(_ address: PeerAddress) -> PeerAddress {
        PeerAddress(host: address.host, port: address.port, scheme: address.scheme ?? apiScheme)
    }

    /// Starts the API server (HTTPS with `tls.apiServer`). Its middleware counts every response
    /// by status, then checks the caller's permission for the route (``APIAccessControl``); what
    /// passes goes to the node `slot` holds once it is installed.
    private static func startHTTP(_ address: PeerAddress, slot: NodeSlot, tls: NodeTLS, metrics: NodeMetrics,
                                  authorization: APIAuthorization, router: APIRouter, logger: Logger) async throws -> HTTPServer {
        var configuration = HTTPServerConfiguration(host: address.host, port: address.port)
        if let apiServer = tls.apiServer { configuration.transport = TLSTransportFactory(apiServer) }
        configuration.logger = logger.withLabel("http")
        // Every error of the API is {"error": …}, those of requests the server cannot read too.
        configuration.errorFormat = .json
        let middleware: [any HTTPMiddleware] = [
            HTTPStatusCounting { metrics.countRequest(status: $0) },
            APIAccessControl(authorization: authorization, router: router, maxBodyBytes: configuration.limits.maxBodyBytes),
        ]
        return try await HTTPServer.start(configuration: configuration, middleware: middleware) { request in
            guard let node = slot.node else { return APIResponse.error(503, "the node is starting or shutting down; retry") }
            return await node.handle(request)
        }
    }

    // MARK: Reloading

    /// Re-reads what may change while the node runs: the gossip keyring file, TLS certificates
    /// and keys. `discod` calls this on SIGHUP; a file that cannot be used is logged and what is
    /// in use stays.
    public func reload() {
        logger.info("reloading the gossip keyring and TLS certificates")
        membership.reload()
        reloadTLS()
        roles.forEach { $0.reload() }
    }
}

/// An advertised address with the port the system chose filled in, when it asks for port 0.
func advertised(_ advertised: PeerAddress, bound: PeerAddress) -> PeerAddress {
    PeerAddress(host: advertised.host, port: advertised.port == 0 ? bound.port : advertised.port)
}

// MARK: - NodeSlot

/// The node the API server hands requests to: empty until the node exists, and weak, so the
/// server (which the node owns) does not keep it alive.
final class NodeSlot: Sendable {
    private struct Reference {
        weak var node: Node?
    }

    private let reference = Mutex(Reference())

    var node: Node? { reference.withLock { $0.node } }

    func install(_ node: Node) { reference.withLock { $0.node = node } }
}
