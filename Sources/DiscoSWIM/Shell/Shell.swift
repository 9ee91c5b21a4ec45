import DiscoCore
import DiscoNet
import Synchronization

// MARK: - Shell

extension SWIM {
    /// Runs one SWIM member on real sockets: a UDP socket for probes and gossip and, on the same
    /// port number, a TCP listener for push-pull full-state sync.
    ///
    /// The shell owns all I/O and time; the protocol lives in the pure ``Instance``. Every
    /// input (a datagram, a timer, a push-pull answer, an API call) is handed to the core with
    /// the current time from `ContinuousClock`, and the effects it returns are performed: packets
    /// go to a sender task, timers into a ``TimerSchedule`` served by one sleeping task aimed at
    /// the earliest deadline (no fixed repeating tick), push-pull exchanges run as tasks with a
    /// timeout, and member events go to ``events``.
    ///
    /// Start with ``start(_:)``, then ``join(seeds:)``; end with ``leave()`` (graceful) and
    /// ``shutdown()``. A shell that is not shut down keeps its tasks, and so itself, alive.
    public actor Shell {
        /// Frame type of push-pull states on the internode TCP port (Raft uses other types).
        public static let pushPullFrameType: UInt8 = 0x53
        /// Frame type of a push-pull refusal: UTF-8 text saying why the state was not taken
        /// (it did not open with the answering member's keyring, or its sealing did not match).
        public static let pushPullRefusedFrameType: UInt8 = 0x54

        /// This member's identity.
        public nonisolated let id: NodeID
        /// The address other members reach this one at (UDP and TCP share the port number):
        /// the advertised host and port, which may differ from the bound ones.
        public nonisolated let address: PeerAddress
        /// Membership changes seen by this member, in order. One consumer; the stream ends at
        /// ``shutdown()``.
        public nonisolated let events: AsyncStream<MemberEvent>

        nonisolated let configuration: Configuration
        /// Sealing and opening of everything sent and received; nil without encryption.
        nonisolated let protection: GossipProtection?
        /// The cluster label checked on plaintext messages received (nil: none checked).
        nonisolated let wireLabel: SWIM.WireLabel?
        /// The label put in front of plaintext messages sent (nil when sealing or unlabelled).
        nonisolated let plaintextLabel: SWIM.WireLabel?
        /// The event loop the shell's own tasks prefer as executor: timers, receiving and
        /// exchanges run on its thread, so busy work on the cooperative pool (or elsewhere in
        /// the process) cannot delay probes and acks into false suspicions.
        nonisolated let loop: EventLoop
        /// The loops its sockets and push-pull connections run on (the configuration's, else the shared group).
        nonisolated let group: EventLoopGroup
        let socket: UDPSocket
        let listener: TCPListener?
        let origin: ContinuousClock.Instant
        let eventSink: AsyncStream<MemberEvent>.Continuation
        let outbox: AsyncStream<Outgoing>.Continuation
        let outgoing: AsyncStream<Outgoing>

        var core: Instance
        var schedule = TimerSchedule()
        /// The one task sleeping until `wakeDeadline`, and its generation.
        var wakeTask: Task<Void, Never>?
        var wakeDeadline: Duration?
        var wakeGeneration = 0
        var senderTask: Task<Void, Never>?
        var receiveTask: Task<Void, Never>?
        var acceptTask: Task<Void, Never>?
        var pushPulls: [Int: PushPullTask] = [:]
        var nextPushPullID = 0
        var answering = 0
        /// One task per accepted push-pull connection, answering it; ``shutdown()`` cancels and
        /// awaits them.
        nonisolated let answeringTasks = OwnedTasks()
        /// Lookups of members' host names, started by the sender; ``shutdown()`` cancels them
        /// without waiting (getaddrinfo cannot be interrupted; a late answer finds the socket closed).
        nonisolated let lookupTasks = OwnedTasks()
        var stats = Statistics()
        /// Datagrams that are no SWIM packet: logged at most once per interval, as dropped
        /// gossip of other kinds (``GossipProtection/logInterval``).
        var dropLog = RateLimitedLog(interval: GossipProtection.logInterval)
        var refusalLog = RateLimitedLog(interval: .seconds(10))
        /// Datagrams each sender may have handled (nil: no bound).
        var senderBudget: SenderBudget?
        /// Datagrams dropped for a sender over its budget: logged at most once per 10 s, all
        /// senders together (a flood from many addresses logs no more than one from one).
        var rateLimitLog = RateLimitedLog(interval: .seconds(10))
        /// Push-pull requests dropped unread (not a state, not decodable, sealed while this
        /// member has no key): logged at most once per interval and kind, since each costs the
        /// sender only a connection. Used off the actor, by the tasks answering push-pulls.
        nonisolated let pushPullDropLog = Mutex(KeyedLogThrottle<PushPullDrop>(interval: GossipProtection.logInterval, capacity: 4))
        /// A node ID conflict is logged once a minute per other address (64 remembered).
        var conflictLog = KeyedLogThrottle<PeerAddress>(interval: .seconds(60), capacity: 64)
        /// A message refused for its cluster label is logged once a minute per source host
        /// (1024 remembered).
        var clusterRefusalLog = KeyedLogThrottle<String>(interval: .seconds(60), capacity: 1024)
        /// Addresses that recently sent unlabelled datagrams (members of an older version),
        /// answered without a label, since they could not read one.
        var unlabelledPeers: [PeerAddress: Duration] = [:]
        var isShutDown = false
        var leaveCompleted = false
        var leaveWaiters: [CheckedContinuation<Void, Never>] = []

        /// A datagram waiting for the sender task.
        struct Outgoing: Sendable {
            var bytes: [UInt8]
            var destination: PeerAddress
        }

        typealias PushPullTask = Task<Result<Void, ShellError>, Never>

        // MARK: Starting

        /// Binds the sockets, starts the core and its timers. The member knows only itself
        /// until ``join(seeds:)``.
        public static func start(_ configuration: Configuration) async throws -> Shell {
            try configuration.validate()
            try configuration.settings.validate()
            // The shared loops unless the caller gave a group: started here, where a failure throws.
            let group = try configuration.group ?? EventLoopGroup.startShared()
            var configuration = configuration
            configuration.group = group
            let (socket, listener) = try await bind(configuration)
            let host = configuration.advertiseHost ?? socket.localAddress.host
            let advertised = PeerAddress(host: host, port: configuration.advertisePort ?? socket.localAddress.port)
            let seed = configuration.randomSeed ?? UInt64.random(in: .min ... .max)
            let core: Instance
            do {
                core = try Instance(id: configuration.id, address: advertised, metadata: configuration.metadata,
                                    settings: configuration.coreSettings, random: DeterministicRandom(seed: seed))
            } catch {
                socket.close()
                listener?.close()
                throw error
            }
            let shell = Shell(configuration: configuration, group: group, socket: socket, listener: listener, core: core)
            await shell.begin()
            return shell
        }

        private init(configuration: Configuration, group: EventLoopGroup, socket: UDPSocket, listener: TCPListener?, core: Instance) {
            self.configuration = configuration
            self.group = group
            self.protection = configuration.encryption.map { GossipProtection($0, logger: configuration.logger) }
            self.wireLabel = configuration.wireLabel
            self.plaintextLabel = configuration.outgoingLabel
            self.loop = group.next()
            self.id = core.id
            self.address = core.address
            self.socket = socket
            self.listener = listener
            self.core = core
            self.senderBudget = configuration.senderBudget
            self.origin = .now
            (events, eventSink) = AsyncStream.makeStream(of: MemberEvent.self,
                                                         bufferingPolicy: .bufferingNewest(configuration.eventBufferLimit))
            (outgoing, outbox) = AsyncStream.makeStream(of: Outgoing.self, bufferingPolicy: .bufferingNewest(4096))
        }

        /// Binds UDP first (with port 0 the kernel picks a port free for UDP), then TCP on the
        /// same number; with port 0 a clash on TCP is retried with a new port.
        static func bind(_ configuration: Configuration) async throws(ShellError) -> (UDPSocket, TCPListener?) {
            let host = configuration.bindHost
            var lastFailure = ""
            for _ in 0..<(configuration.port == 0 ? 16 : 1) {
                let socket: UDPSocket
                do {
                    socket = try await UDPSocket.bind(host: host, port: configuration.port, group: configuration.group)
                } catch {
                    throw ShellError(.bindFailed, "cannot bind UDP \(PeerAddress(host: host, port: configuration.port)): \(error)")
                }
                guard configuration.servesPushPull else { return (socket, nil) }
                let port = socket.localAddress.port
                do {
                    let listener = try await TCPListener.bind(host: host, port: port, group: configuration.group,
                                                              transport: configuration.pushPullAcceptTransport)
                    return (socket, listener)
                } catch {
                    socket.close()
                    lastFailure = "cannot bind TCP \(PeerAddress(host: host, port: port)) for push-pull: \(error)"
                }
            }
            throw ShellError(.bindFailed, lastFailure)
        }

        private func begin() {
            let socket = self.socket
            let outgoing = self.outgoing
            let logger = configuration.logger
            let protection = self.protection
            let resolveHost = configuration.resolveHost
            let lookups = lookupTasks
            senderTask = Task(executorPreference: loop) {
                await Self.runSender(socket: socket, outgoing: outgoing, protection: protection, logger: logger,
                                     lookups: lookups, resolveHost: resolveHost)
            }
            receiveTask = Task(executorPreference: loop) { await self.receiveLoop() }
            if let listener { acceptTask = Task(executorPreference: loop) { await self.acceptLoop(listener) } }
            perform(core.start(now: now()))
            var metadata: Logger.Metadata = ["id": "\(id)", "address": "\(address)"]
            if address.port != socket.localAddress.port { metadata["bound"] = "\(socket.localAddress)" }
            if let encryption = configuration.encryption {
                metadata["encryption"] = "AES-256-GCM"
                metadata["keys"] = "\(encryption.keyring.fingerprints)"
                if !encryption.verifyIncoming { metadata["verify_incoming"] = "false" }
                if !encryption.verifyOutgoing { metadata["verify_outgoing"] = "false" }
            }
            if let wireLabel { metadata["cluster_label"] = "\(wireLabel.name)" }
            configuration.logger.info("SWIM member started", metadata: metadata)
        }

        // MARK: Time

        /// Local time as the core sees it: time since the shell started, on `ContinuousClock`.
        func now() -> Duration { origin.duration(to: .now) }

        // MARK: Queries

        /// Every member this one knows (itself included; dead and left ones until reaped).
        public var members: [Member] { core.members }

        /// The member with `id`, if known.
        public func member(_ id: NodeID) -> Member? { core.member(id) }

        /// Members alive or suspect, this one included.
        public var liveMemberCount: Int { core.liveMemberCount }

        /// This member's current incarnation number.
        public var incarnation: UInt64 { core.incarnation }

        /// Lifeguard's local health multiplier (0 when healthy).
        public var localHealthMultiplier: Int { core.localHealthMultiplier }

        /// Counters of datagrams, exchanges, timers and encryption so far.
        public var statistics: Statistics {
            var statistics = stats
            if let counters = protection?.counters {
                statistics.decryptFailures = counters.decryptFailures
                statistics.plaintextDropped = counters.plaintextDropped
                statistics.plaintextAccepted = counters.plaintextAccepted
                statistics.openedWithAcceptedKey = counters.openedWithAcceptedKey
                statistics.keyringsInstalled = counters.keyringsInstalled
            }
            return statistics
        }

        // MARK: Keys

        /// Whether this member seals its gossip.
        public nonisolated var isEncrypted: Bool { protection != nil }

        /// The keyring in use (nil without encryption).
        public nonisolated var keyring: GossipKeyring? { protection?.keyring }

        /// Replaces the keyring at run time (a rotation step): from now on messages are sealed
        /// with its primary key and opened with any of its keys. Throws
        /// ``ShellError/Code/encryptionOff`` when the shell was started without encryption.
        public nonisolated func installKeyring(_ keyring: GossipKeyring) throws(ShellError) {
            guard let protection else {
                throw ShellError(.encryptionOff, "this member was started without gossip encryption; restart it with a key to encrypt")
            }
            let before = protection.keyring
            protection.install(keyring)
            configuration.logger.info("gossip keyring installed", metadata: [
                "id": "\(id)", "keys": "\(keyring.fingerprints)", "before": "\(before.fingerprints)",
            ])
        }

        // MARK: Joining, metadata, leaving

        /// Joins the cluster through `seeds` (SWIM addresses of members): exchanges full state
        /// with each by push-pull and waits for those exchanges. Returns how many seeds answered.
        /// Throws ``ShellError/Code/joinFailed`` when none did; seeds that did not answer are
        /// re-contacted every `reconnectInterval` either way, so a later start of the seeds
        /// still forms the cluster.
        @discardableResult
        public func join(seeds: [PeerAddress]) async throws(ShellError) -> Int {
            guard !isShutDown else { throw ShellError(.shutDown, "cannot join after shutdown") }
            let started = perform(core.join(seeds, now: now()))
            var answered = 0
            var failures: [String] = []
            for task in started {
                switch await task.value {
                case .success: answered += 1
                case .failure(let error): failures.append(error.detail)
                }
            }
            if answered == 0, !failures.isEmpty {
                throw ShellError(.joinFailed, "no seed answered (\(failures.joined(separator: "; "))); "
                                 + "seeds are re-contacted every \(configuration.settings.reconnectInterval)")
            }
            return answered
        }

        /// Announces new metadata to the cluster (carried by a new incarnation).
        public func updateMetadata(_ metadata: Metadata) throws(ConfigurationError) {
            guard !isShutDown else { return }
            perform(try core.updateMetadata(metadata, now: now()))
        }

        /// Leaves gracefully: announces "left" and returns once the news has been sent often
        /// enough (at most `leaveTimeout`). Call ``shutdown()`` afterwards.
        public func leave() async {
            guard !isShutDown else { return }
            perform(core.leave(now: now()))
            guard !leaveCompleted else { return }
            await withCheckedContinuation { leaveWaiters.append($0) }
        }

        /// Stops everything: timers, exchanges (push-pulls it answers are cancelled and awaited),
        /// sockets; ends ``events``. Datagrams already queued (such as a leave's last gossip) are
        /// flushed first, for at most a second.
        /// Without a ``leave()`` first, the others will declare this member dead.
        public func shutdown() async {
            guard !isShutDown else { return }
            isShutDown = true
            wakeTask?.cancel()
            wakeTask = nil
            schedule.removeAll()
            for task in pushPulls.values { task.cancel() }
            pushPulls.removeAll()
            outbox.finish()
            if let sender = senderTask {
                _ = try? await withTimeout(.seconds(1), "flushing queued datagrams") { await sender.value }
                sender.cancel()
            }
            lookupTasks.cancelAll()
            receiveTask?.cancel()
            acceptTask?.cancel()
            socket.close()
            listener?.close()
            await answeringTasks.close()
            eventSink.finish()
            completeLeaveWaiters()
            configuration.logger.info("SWIM member stopped", metadata: ["id": "\(id)"])
        }

        func completeLeaveWaiters() {
            leaveCompleted = true
            let waiters = leaveWaiters
            leaveWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }
}
