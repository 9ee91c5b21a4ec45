import DiscoCore

// MARK: - NodeConfiguration

/// Everything a ``Node`` runs with, as plain values: no flags, no files to read. Every property
/// has a documented default, so a program sets only what it needs:
///
/// ```swift
/// var configuration = NodeConfiguration(nodeID: "n1", dataDirectory: "/var/lib/app/disco")
/// configuration.api.bindAddress = PeerAddress(host: "10.0.0.1", port: 4001)
/// configuration.internode.bindAddress = PeerAddress(host: "10.0.0.1", port: 4002)
/// configuration.formation.plan = .join
/// configuration.formation.join = [PeerAddress(host: "10.0.0.2", port: 4001)]
/// ```
///
/// `discod` builds one from its command line (DiscoCLI's `DiscodOptions`); ``validate()``
/// checks one built in code.
public struct NodeConfiguration: Sendable {
    /// The node's stable, unique identity (never reuse it for another node).
    public var nodeID: NodeID
    /// Where the node keeps its state; created when missing, relative paths are taken from the
    /// working directory. One node per directory (it is locked while the node runs).
    public var dataDirectory: String
    /// The HTTP API: clients, operators, and the cluster's own join and notify traffic.
    public var api = API()
    /// The internode port: Raft over TCP and SWIM gossip over UDP on the same port number.
    public var internode = Internode()
    /// The cluster this node belongs to, and its part in it.
    public var cluster = Cluster()
    /// How the node finds its cluster at its first start.
    public var formation = Formation()
    /// Gossip (SWIM) encryption.
    public var gossip = Gossip()
    /// TLS on the HTTP API and the internode port.
    public var tls = TLS()
    /// The replicated event log.
    public var eventLog = EventLog()
    /// Who may use the HTTP API.
    public var access = Access()
    /// Tick, timeout and grace intervals (rarely changed).
    public var timing = Timing()
    /// The consensus engine: embedded Raft (the default) or etcd.
    public var consensus = ConsensusChoice.raft

    /// A single-node configuration on `localhost:4001` (API) and `localhost:4002` (internode).
    public init(nodeID: NodeID, dataDirectory: String) {
        self.nodeID = nodeID
        self.dataDirectory = dataDirectory
    }
}

// MARK: - Groups

extension NodeConfiguration {
    /// The HTTP API's addresses.
    public struct API: Sendable, Hashable {
        /// Where the API listens. Default `localhost:4001`; port 0 lets the system choose.
        public var bindAddress = PeerAddress(host: "localhost", port: 4001)
        /// The address other nodes and clients use; nil (the default) means ``bindAddress``.
        public var advertisedAddress: PeerAddress?

        public init() {}

        /// ``advertisedAddress``, or the bind address when none is set.
        public var effectiveAdvertisedAddress: PeerAddress { advertisedAddress ?? bindAddress }
    }

    /// The internode port's addresses.
    public struct Internode: Sendable, Hashable {
        /// Where Raft (TCP) and SWIM (UDP) listen. Default `localhost:4002`; port 0 lets the
        /// system choose (the same number for both).
        public var bindAddress = PeerAddress(host: "localhost", port: 4002)
        /// The address other nodes use; nil (the default) means ``bindAddress``.
        public var advertisedAddress: PeerAddress?

        public init() {}

        /// ``advertisedAddress``, or the bind address when none is set.
        public var effectiveAdvertisedAddress: PeerAddress { advertisedAddress ?? bindAddress }
    }

    /// The cluster and this node's part in it.
    public struct Cluster: Sendable, Hashable {
        /// The cluster's name; nodes refuse peers with another. Default `"disco"`.
        public var name = "disco"
        /// Whether the node votes (false: a learner that replicates and answers reads, never
        /// votes or bootstraps). Default true.
        public var voter = true
        /// Roles this node announces besides those of the ``Role`` implementations it runs
        /// (names: lowercase letters, digits and `-`). Default none.
        public var roles: [String] = []
        /// Roles this node needs a live member to perform before it is ready: while none does,
        /// `/readyz` answers 503 naming the role. Default none.
        public var requires: [String] = []
        /// Roles a live member must perform before this node finishes starting: its ``Role``
        /// plug-ins start (and `/readyz` answers 200) only once each has one; progress is logged
        /// while it waits. Default none.
        public var bootstrapNeeds: [String] = []
        /// How often a node waiting for ``bootstrapNeeds`` logs what it still waits for.
        /// Default 5 seconds.
        public var bootstrapNeedsLogInterval: Duration = .seconds(5)
        /// The leader removes a learner that has not answered for this long; zero never.
        /// Default one hour.
        public var reapLearnerTimeout: Duration = .seconds(3600)

        public init() {}
    }

    /// How the node reaches a cluster when it has no state yet. A node with state always
    /// rejoins its cluster.
    public struct Formation: Sendable {
        /// What to do at the first start (``FormationPlan``).
        public typealias Plan = FormationPlan

        /// A discovery backend and its settings.
        public struct Discovery: Sendable, Hashable {
            /// The backend (dns, dns-srv, consul-kv, etcd-kv) and its settings.
            public var config: DiscoConfig
            /// The key prefix of the leader record in Consul or etcd. Default `"disco"`.
            public var key: String

            public init(config: DiscoConfig, key: String = "disco") {
                self.config = config
                self.key = key
            }

            public var mode: DiscoMode { config.mode }
        }

        /// Default ``Plan/singleNode``.
        public var plan = Plan.singleNode
        /// HTTP API addresses of nodes to join or notify. Default none.
        public var join: [PeerAddress] = []
        /// Where to look the peers up instead of ``join``. Default none.
        public var discovery: Discovery?
        /// Voters, counting this node, to wait for before bootstrapping a new cluster (0: none).
        public var bootstrapExpect = 0
        /// How long a new node waits for ``bootstrapExpect`` voters (or a KV registration, and
        /// with etcd as the consensus engine, for etcd to be read) before it stops with an
        /// error; a node with state, or one whose data directory records that it is (or may be)
        /// a member of the cluster in etcd, never stops for this. Default 120 seconds.
        public var bootstrapExpectTimeout: Duration = .seconds(120)
        /// Join rounds, each trying every target, before the node gives up. Default 5.
        public var joinAttempts = 5
        /// Pause between join rounds. Default 3 seconds.
        public var joinInterval: Duration = .seconds(3)
        /// Timeout of one join request to one peer. Default 2 seconds.
        public var connectTimeout: Duration = .seconds(2)
        /// Timeout of one notify (and rejoin) request to one peer. Default 1 second.
        public var notifyTimeout: Duration = .seconds(1)

        public init() {}
    }

    /// How gossip is sealed.
    public struct Gossip: Sendable, Hashable {
        /// Gossip sealed with AES-256-GCM under a keyring shared by every node.
        public struct Encryption: Sendable, Hashable {
            /// The keys at start (the primary seals, every key opens).
            public var keyring: GossipKeyring
            /// A keyring file to read at start and again on ``Node/reload()`` and whenever it
            /// changes; nil: ``keyring`` stays as given.
            public var keyringPath: String?
            /// Refuse plaintext gossip. Default true (false only while migrating a cluster).
            public var verifyIncoming = true
            /// Seal outgoing gossip. Default true (false only while migrating a cluster).
            public var verifyOutgoing = true

            public init(keyring: GossipKeyring, keyringPath: String? = nil) {
                self.keyring = keyring
                self.keyringPath = keyringPath
            }
        }

        /// Nil (the default): plaintext gossip.
        public var encryption: Encryption?
        /// How often ``Encryption/keyringPath`` is checked for new contents. Default 1 second.
        public var keyringPollInterval: Duration = .seconds(1)

        public init() {}
    }

    /// TLS certificates of the HTTP API and the internode port.
    public struct TLS: Sendable {
        /// The HTTPS API (and the client for other nodes' APIs). Default: plain HTTP.
        public var api = TLSFiles()
        /// TLS on the internode port (Raft and push-pull), both ways. Default: none.
        public var internode = TLSFiles()
        /// Do not verify the certificates of the nodes this node connects to (testing only).
        public var internodeNoVerify = false
        /// How often certificate and key files are checked for changes. Default 1 second.
        public var reloadInterval: Duration = .seconds(1)
        /// Contexts already loaded from these files (`discod` loads them first, to report a bad
        /// file before touching the data directory); nil: the node loads them at start.
        public var loaded: NodeTLS?

        public init() {}
    }

    /// How much of the event log the cluster keeps (the leader's values apply).
    public struct EventLog: Sendable, Hashable {
        /// Default 100,000 events and 64 MiB of event data; zero lifts a bound.
        public var retention = EventRetention.standard

        public init() {}
    }

    /// Access control of the HTTP API.
    public struct Access: Sendable {
        /// Users and their permissions; nil (the default) leaves the API open to anyone.
        public var auth: AuthFile?
        /// The user (with a plain password in ``auth``) this node sends on join, notify and
        /// forwarded requests. Default none.
        public var joinAs: AuthUser?

        public init() {}
    }

    /// Intervals and timeouts.
    public struct Timing: Sendable, Hashable {
        /// How often Raft's logical clock ticks; heartbeats go out every tick. Default 50 ms.
        public var raftTickInterval: Duration = .milliseconds(50)
        /// Election timeout in ticks (each node draws from `[n, 2n)`). Default 6.
        public var electionTicks = 6
        /// How long a graceful stop may take before what is left is cancelled. Default 10 seconds.
        public var shutdownGrace: Duration = .seconds(10)
        /// How often the leader reconciles the replicated membership with Raft's configuration
        /// (and trims the event log). Default 250 ms.
        public var reconcileInterval: Duration = .milliseconds(250)
        /// How long a node that learned it was removed keeps answering `/status` and `/readyz`
        /// before it stops. Default 10 seconds.
        public var removedLinger: Duration = .seconds(10)
        /// How long the leader leaves a consumer cursor that no consumer needs (behind the oldest
        /// retained event, or of a removed node's default consumer) unchanged before it deletes
        /// it (``EventCursorCollection``); zero keeps every cursor. Default one hour.
        public var cursorIdleDeletion: Duration = .seconds(3600)

        public init() {}
    }
}
