import DiscoCore
import DiscoSystem
import DiscoNet

// MARK: - Shell configuration

extension SWIM.Shell {
    /// Everything a shell needs to run one member on real sockets.
    public struct Configuration: Sendable {
        /// This member's identity.
        public var id: NodeID
        /// Address to bind the UDP socket (and the push-pull TCP listener) to; empty or `::` for
        /// every interface, IPv6 and IPv4 (dual-stack; `0.0.0.0` where IPv6 is off).
        public var bindHost: String
        /// Port to bind; 0 lets the kernel choose one that is free for UDP (TCP then binds the
        /// same number).
        public var port: UInt16
        /// Host other members reach this one at; defaults to `bindHost`. Must be set when
        /// binding a wildcard address.
        public var advertiseHost: String?
        /// Port other members reach this one at (UDP for probes and gossip, TCP for push-pull);
        /// defaults to the bound port. Set it when a port mapping or NAT forwards another port
        /// number to this member's: members gossip this port, so the mapping must carry UDP
        /// and TCP on it.
        public var advertisePort: UInt16?
        /// Metadata announced at start.
        public var metadata: SWIM.Metadata
        /// Protocol tunables handed to the core.
        public var settings: SWIM.Settings
        /// Upper bound on one push-pull exchange (connect, send, receive), either direction.
        public var pushPullTimeout: Duration
        /// Whether the shell opens its own TCP listener for push-pull. When false, an
        /// internode listener owned by someone else hands SWIM frames to
        /// ``SWIM/Shell/answerPushPull(_:on:)``.
        public var servesPushPull: Bool
        /// Most push-pull exchanges answered at the same time; further connections are closed.
        public var maxConcurrentPushPulls: Int
        /// Largest push-pull frame payload accepted.
        public var maxPushPullBytes: Int
        /// Datagrams each source address may have handled (checked before a datagram is opened
        /// or decoded); the ones beyond are dropped unread and counted in
        /// ``SWIM/Shell/Statistics/datagramsRateLimited``. Far above what members send each
        /// other (see ``SWIM/SenderBudget``); raise it only with much shorter protocol periods
        /// than the defaults. nil handles every datagram.
        public var senderBudget: SWIM.SenderBudget?
        /// Member events kept for a slow consumer of ``SWIM/Shell/events``; older ones are
        /// dropped beyond this (and counted in ``SWIM/Shell/Statistics/eventsDropped``).
        public var eventBufferLimit: Int
        /// Gossip encryption (AES-256-GCM under a shared keyring); nil sends and accepts
        /// plaintext. Sealing takes ``SWIM/GossipSealer/overhead`` bytes of `maxPacketSize`.
        public var encryption: SWIM.GossipEncryption?
        /// Names this member's cluster on every plaintext message it sends (a
        /// ``SWIM/WireLabel`` in front of each datagram and push-pull state): plaintext messages
        /// labelled with another name are dropped, counted in
        /// ``SWIM/Shell/Statistics/clusterRefusals`` and logged; unlabelled ones (from members
        /// of an older version) are still accepted. 1 to 255 bytes, no control characters. Sealed
        /// messages carry no label: `encryption`'s label binds them. nil sends no label and
        /// accepts every label.
        public var clusterLabel: String?
        /// Seed of the core's random choices; nil draws one from the system.
        public var randomSeed: UInt64?
        /// Where the shell logs (dropped datagrams, failed exchanges, lifecycle).
        public var logger: Logger
        /// Event loops that drive the sockets; nil: the shared group, started with the shell (a
        /// failure to start it fails the start).
        public var group: EventLoopGroup?
        /// What push-pull connections this member opens run over (plain TCP, or TLS to an
        /// internode port that speaks it).
        public var pushPullConnectTransport: any ByteStreamTransportFactory
        /// What push-pull connections accepted by the shell's own listener run over.
        public var pushPullAcceptTransport: any ByteStreamTransportFactory
        /// Resolves the host name of a member advertised by name (getaddrinfo by default). A slow
        /// answer delays only the datagrams to that name; others go out meanwhile.
        public var resolveHost: @Sendable (_ host: String, _ port: UInt16) async throws -> [SocketAddress]

        public init(
            id: NodeID, bindHost: String = "127.0.0.1", port: UInt16 = 0, advertiseHost: String? = nil,
            advertisePort: UInt16? = nil, metadata: SWIM.Metadata = SWIM.Metadata(), settings: SWIM.Settings = SWIM.Settings(),
            logger: Logger = Logger(label: "swim", level: .info, handler: LogfmtHandler()),
            group: EventLoopGroup? = nil
        ) {
            self.id = id
            self.bindHost = bindHost
            self.port = port
            self.advertiseHost = advertiseHost
            self.advertisePort = advertisePort
            self.metadata = metadata
            self.settings = settings
            self.pushPullTimeout = .seconds(5)
            self.servesPushPull = true
            self.maxConcurrentPushPulls = 32
            self.maxPushPullBytes = Frame.defaultMaxPayloadBytes
            self.eventBufferLimit = 65_536
            self.senderBudget = .standard
            self.encryption = nil
            self.clusterLabel = nil
            self.randomSeed = nil
            self.logger = logger
            self.group = group
            self.pushPullConnectTransport = PlainTransportFactory()
            self.pushPullAcceptTransport = PlainTransportFactory()
            self.resolveHost = { host, port in try await SocketAddress.resolveAsync(host: host, port: port) }
        }

        /// The settings handed to the core: packets are built smaller by the sealing overhead
        /// (with encryption) or the label (plaintext with a label), so what is sent still fits
        /// `maxPacketSize`.
        var coreSettings: SWIM.Settings {
            var core = settings
            core.maxPacketSize -= wireOverhead
            return core
        }

        /// The label checked on plaintext messages received (nil: none checked).
        var wireLabel: SWIM.WireLabel? { clusterLabel.flatMap { try? SWIM.WireLabel($0) } }

        /// The label put in front of what is sent: only on plaintext (nil when sealing).
        var outgoingLabel: SWIM.WireLabel? {
            if let encryption, encryption.verifyOutgoing { return nil }
            return wireLabel
        }

        /// Bytes a datagram may carry besides the packet: the sealing (with encryption, even
        /// while `verifyOutgoing` is off) and the label (on plaintext).
        var wireOverhead: Int {
            (encryption == nil ? 0 : SWIM.GossipSealer.overhead) + (outgoingLabel?.prefix.count ?? 0)
        }

        /// Checks the shell's own values (the core checks `settings` and `metadata`).
        func validate() throws(SWIM.ConfigurationError) {
            guard pushPullTimeout > .zero else {
                throw .init(field: "pushPullTimeout", reason: "\(pushPullTimeout) must be positive")
            }
            guard maxConcurrentPushPulls >= 1 else {
                throw .init(field: "maxConcurrentPushPulls", reason: "\(maxConcurrentPushPulls) must be at least 1")
            }
            guard maxPushPullBytes >= 64 else {
                throw .init(field: "maxPushPullBytes", reason: "\(maxPushPullBytes) must be at least 64")
            }
            guard eventBufferLimit >= 1 else {
                throw .init(field: "eventBufferLimit", reason: "\(eventBufferLimit) must be at least 1")
            }
            if let clusterLabel {
                do {
                    _ = try SWIM.WireLabel(clusterLabel)
                } catch {
                    throw .init(field: "clusterLabel", reason: error.detail)
                }
            }
            if encryption != nil, settings.maxPacketSize - SWIM.GossipSealer.overhead < 512 {
                throw .init(field: "maxPacketSize", reason: "\(settings.maxPacketSize) must be at least \(512 + SWIM.GossipSealer.overhead) "
                            + "with gossip encryption (sealing adds \(SWIM.GossipSealer.overhead) bytes to every datagram)")
            }
            if let label = outgoingLabel, settings.maxPacketSize - label.prefix.count < 512 {
                throw .init(field: "maxPacketSize", reason: "\(settings.maxPacketSize) must be at least \(512 + label.prefix.count) "
                            + "with cluster label \(label.name.debugDescription) (it adds \(label.prefix.count) bytes to every datagram)")
            }
            // Every interface in any spelling: "" (`:PORT`), 0.0.0.0, ::, [::], 0:0::0, ...
            func isWildcard(_ host: String) -> Bool { PeerAddress.isEveryInterfaceHost(host) }
            if let advertiseHost, isWildcard(advertiseHost) {
                throw .init(field: "advertiseHost", reason: "'\(advertiseHost)' cannot be reached by other members; give this node's address")
            }
            if advertisePort == 0 {
                throw .init(field: "advertisePort", reason: "0 cannot be reached by other members; give the port they reach this one at, "
                            + "or leave it unset to advertise the bound port")
            }
            if advertiseHost == nil, isWildcard(bindHost) {
                throw .init(field: "advertiseHost",
                            reason: "must be set when binding the wildcard address '\(bindHost)', so other members can reach this one")
            }
        }
    }

    /// Counters of what the shell did, for tests and metrics.
    public struct Statistics: Sendable, Hashable {
        /// Datagrams received and handed to the core.
        public var datagramsReceived = 0
        /// Datagrams that could not be decoded and were dropped.
        public var datagramsDropped = 0
        /// Datagrams dropped unread because their sender went beyond its
        /// ``SWIM/Shell/Configuration/senderBudget`` (a flood from one address).
        public var datagramsRateLimited = 0
        /// The reason the last datagram was dropped.
        public var lastDropReason: String?
        /// Datagrams handed to the socket.
        public var datagramsSent = 0
        /// Push-pull exchanges this member opened that completed, and that failed.
        public var pushPullsCompleted = 0
        public var pushPullsFailed = 0
        /// Push-pull exchanges other members opened that this member answered.
        public var pushPullsAnswered = 0
        /// Timers fired into the core.
        public var timersFired = 0
        /// Events dropped because the consumer of ``SWIM/Shell/events`` fell behind.
        public var eventsDropped = 0
        /// Messages (datagrams and push-pull states) dropped because no key of the gossip
        /// keyring opened them: another key or label, altered or garbage bytes.
        public var decryptFailures = 0
        /// Plaintext messages dropped by a member that requires sealed gossip.
        public var plaintextDropped = 0
        /// Plaintext messages accepted because incoming verification is off (migration).
        public var plaintextAccepted = 0
        /// Messages opened with an accepted key rather than the primary (rotation in progress).
        public var openedWithAcceptedKey = 0
        /// Keyrings installed after start (reloads).
        public var keyringsInstalled = 0
        /// Push-pull exchanges the other member refused because it could not open them (or
        /// needed them sealed, or unsealed, or belongs to another cluster).
        public var pushPullsRefused = 0
        /// Node ID conflicts the core reported: another live process announces this member's
        /// ID at another address (logged at most once a minute per address).
        public var nodeIDConflicts = 0
        /// Plaintext datagrams and push-pull states (requests and answers) dropped because they
        /// are labelled with another cluster's name (``SWIM/Shell/Configuration/clusterLabel``).
        public var clusterRefusals = 0
        /// Plaintext datagrams and push-pull states accepted without a label by a member that
        /// has one: members of an older version (a rolling upgrade under way).
        public var unlabelledAccepted = 0
    }
}
