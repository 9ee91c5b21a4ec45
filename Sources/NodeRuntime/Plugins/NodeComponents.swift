import DiscoCore
import DiscoNet
import DiscoRaft
import DiscoSWIM
import Synchronization

// MARK: - NodeComponents

/// The engines a node runs on: consensus, membership and the replicated state they maintain.
///
/// ``Node/start(_:components:)`` takes a factory, so another consensus engine (for example etcd
/// as the log, for users who already run it) or another membership service plugs in without
/// touching formation, the address book or the API. ``embedded`` is the default: Raft and SWIM
/// on the internode address.
public struct NodeComponents: Sendable {
    /// Builds the components for a node from its ``Context``.
    public typealias Factory = @Sendable (Context) async throws -> NodeComponents

    /// What a ``Factory`` gets: the node's configuration and logger, its locked data directory,
    /// the address book the engines should use to find peers by ID, and the node's advertised
    /// API address (the port filled in when the configuration asked for port 0), and the roles it
    /// announces (for gossip metadata), and its TLS contexts (for the internode port).
    public struct Context: Sendable {
        public var configuration: NodeConfiguration
        public var logger: Logger
        public var directory: NodeDataDirectory
        public var book: AddressBook
        public var apiAddress: PeerAddress
        public var roles: [String]
        public var tls: NodeTLS

        public init(configuration: NodeConfiguration, logger: Logger, directory: NodeDataDirectory, book: AddressBook,
                    apiAddress: PeerAddress, roles: [String] = [], tls: NodeTLS = .none) {
            self.tls = tls
            self.configuration = configuration
            self.logger = logger
            self.directory = directory
            self.book = book
            self.apiAddress = apiAddress
            self.roles = roles
        }
    }

    public var consensus: any ConsensusEngine
    public var membership: any MembershipService
    public var store: any ClusterStore
    /// The advertised internode address (with the OS-chosen port filled in).
    public var internodeAddress: PeerAddress

    public init(consensus: any ConsensusEngine, membership: any MembershipService, store: any ClusterStore,
                internodeAddress: PeerAddress) {
        self.consensus = consensus
        self.membership = membership
        self.store = store
        self.internodeAddress = internodeAddress
    }

    /// Embedded Raft (WAL under `<data-dir>/raft`) and SWIM (UDP on the Raft port; push-pull
    /// exchanges arrive through the Raft listener).
    public static let embedded: Factory = { context in
        let (configuration, logger, directory, book) = (context.configuration, context.logger, context.directory, context.book)
        let store = ClusterStateMachine(logger: logger.withLabel("cluster-state"))
        let pushPull = PushPullRouter()

        var raftConfig = RaftShellConfiguration(id: configuration.nodeID, dataDirectory: directory.raftDirectory,
                                                addressBook: { book.raftAddress($0) }, logger: logger.withLabel("raft"))
        raftConfig.listenHost = configuration.internode.bindAddress.host
        raftConfig.listenPort = configuration.internode.bindAddress.port
        raftConfig.tickInterval = configuration.timing.raftTickInterval
        raftConfig.raft.electionTicks = configuration.timing.electionTicks
        // The Raft log is held in memory until a snapshot lets it go: with a window of large
        // events, 8192 entries (the count bound) would be several windows. A window's worth of
        // log is a snapshot (about a window) per window of appends.
        if configuration.eventLog.retention.maxBytes > 0 {
            raftConfig.raft.snapshotThresholdBytes = max(1 << 20, configuration.eventLog.retention.maxBytes)
        }
        raftConfig.otherFrames = { frame, connection in await pushPull.route(frame, connection) }
        let tls = context.tls
        if let server = tls.internodeServer, let client = tls.internodeClient {
            raftConfig.transport.acceptTransport = TLSTransportFactory(server)
            raftConfig.transport.connectTransport = TLSTransportFactory(client)
        }
        // One gossip keyring seals SWIM and Raft alike (read once, before either starts).
        let encryption: SWIM.GossipEncryption?
        let keyringFile: SWIM.GossipKeyringFile?
        do {
            (encryption, keyringFile) = try gossipEncryption(configuration, logger: logger.withLabel("swim"))
        } catch {
            throw NodeStartupError("cannot read the gossip keyring: \(error)")
        }
        let sealedRaft = encryption.map { SealedRaftFrames($0, logger: logger.withLabel("raft")) }
        raftConfig.transport.protection = sealedRaft
        // Every Raft connection starts by naming the cluster, so a node of another cluster at a
        // reused address is refused before it can make this one follow its leader.
        raftConfig.transport.clusterName = configuration.cluster.name
        let raft: RaftNodeShell
        do {
            raft = try await RaftNodeShell.start(raftConfig, stateMachine: store)
        } catch {
            throw NodeStartupError("cannot start Raft on \(configuration.internode.bindAddress): \(error)")
        }
        let address = advertised(configuration.internode.effectiveAdvertisedAddress, bound: raft.listenAddress)

        let swim: SWIM.Shell
        do {
            var swimConfig = SWIM.Shell.Configuration(
                id: configuration.nodeID, bindHost: configuration.internode.bindAddress.host, port: raft.listenAddress.port,
                // Gossip tells the others this node's Raft address: the advertised one, port
                // included (a port mapping carries UDP and TCP on it to the listener's port).
                advertiseHost: address.host, advertisePort: address.port,
                metadata: SWIM.Metadata(apiAddress: context.apiAddress, roles: context.roles, isVoter: configuration.cluster.voter),
                logger: logger.withLabel("swim"))
            swimConfig.servesPushPull = false
            swimConfig.encryption = encryption
            swimConfig.clusterLabel = configuration.cluster.name
            if let client = tls.internodeClient { swimConfig.pushPullConnectTransport = TLSTransportFactory(client) }
            swim = try await SWIM.Shell.start(swimConfig)
        } catch {
            await raft.shutdown(transferLeadership: false)
            throw NodeStartupError("cannot start SWIM on UDP \(PeerAddress(host: configuration.internode.bindAddress.host, port: raft.listenAddress.port)): \(error)")
        }
        let membership = SWIMMembership(shell: swim, keyringFile: keyringFile, pollInterval: configuration.gossip.keyringPollInterval,
                                        alsoInstall: { sealedRaft?.install($0) })
        pushPull.install(membership)
        return NodeComponents(consensus: RaftConsensus(shell: raft), membership: membership, store: store,
                              internodeAddress: address)
    }
}

/// The shell's encryption from the configuration (labelled with the cluster name), and the
/// keyring file to watch. The file is read again here: it may have changed since the
/// configuration was made.
func gossipEncryption(_ configuration: NodeConfiguration, logger: Logger) throws -> (SWIM.GossipEncryption?, SWIM.GossipKeyringFile?) {
    guard let gossip = configuration.gossip.encryption else { return (nil, nil) }
    let file = try gossip.keyringPath.map { path throws(ConfigError) in try SWIM.GossipKeyringFile(path: path, logger: logger) }
    let encryption = SWIM.GossipEncryption(keyring: file?.keyring ?? gossip.keyring, label: configuration.cluster.name,
                                           verifyIncoming: gossip.verifyIncoming, verifyOutgoing: gossip.verifyOutgoing)
    return (encryption, file)
}

// MARK: - PushPullRouter

/// Hands SWIM push-pull connections that arrive on the Raft listener to the membership service,
/// which starts after the listener.
final class PushPullRouter: Sendable {
    private let target = Mutex<SWIMMembership?>(nil)

    func install(_ membership: SWIMMembership) { target.withLock { $0 = membership } }

    func route(_ frame: Frame, _ connection: FramedConnection) async {
        guard let membership = target.withLock({ $0 }) else {
            connection.close()
            return
        }
        await membership.answer(frame, on: connection)
    }
}
