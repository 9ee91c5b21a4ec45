import DiscoCore
import DiscoNet
import Synchronization

// MARK: - RaftTransport

/// Raft messages over the internode TCP port.
///
/// Each node dials every peer it sends to (one outbound connection per peer, messages to that
/// peer flow only over it) and accepts any number of inbound connections on its listener.
/// Messages are ``RaftWireFormat`` frames; large ones (snapshots) are chunked and reassembled.
/// Sending never blocks: each peer has a bounded queue, and when a peer is slow or down its
/// oldest messages are dropped and counted — Raft retransmits what matters.
public final class RaftTransport: Sendable {
    /// This node.
    public let localID: NodeID
    /// Where the listener is bound (with the port the OS chose when asked for port 0).
    public let listenAddress: PeerAddress
    public let options: RaftTransportOptions

    private let addressBook: RaftAddressBook
    private let counters = TransportCounters()
    private let logger: Logger
    private let group: EventLoopGroup
    private let inbound: InboundListener
    private let senders = Mutex<(peers: [NodeID: PeerSender], closed: Bool)>(([:], false))

    /// Binds the listener on `host:port` (port 0: the OS chooses) and starts accepting.
    /// `deliver` receives every well-formed message addressed to `localID`, from the
    /// connections' tasks; it must not block. `otherFrames`, when set, takes the inbound
    /// connections whose first frame is not a Raft frame (another protocol sharing the port);
    /// without it such connections are closed as malformed. Without a `group`, the shared one
    /// (started now if it is not yet; a failure throws).
    public static func start(
        localID: NodeID, host: String = "127.0.0.1", port: UInt16 = 0, addressBook: @escaping RaftAddressBook,
        options: RaftTransportOptions = RaftTransportOptions(), logger: Logger,
        group: EventLoopGroup? = nil, otherFrames: RaftForeignFrameHandler? = nil,
        deliver: @escaping @Sendable (Message) -> Void
    ) async throws -> RaftTransport {
        try options.validate()
        if let problem = localID.reservationProblem { throw RaftError(.invalidArgument, "node ID \(problem)") }
        let group = try group ?? EventLoopGroup.startShared()
        let listener = try await TCPListener.bind(host: host, port: port, group: group, transport: options.acceptTransport)
        let bound = listener.localAddress
        let transport = RaftTransport(localID: localID, listener: listener,
                                      listenAddress: PeerAddress(host: bound.host, port: bound.port),
                                      addressBook: addressBook, options: options, logger: logger, group: group,
                                      otherFrames: otherFrames, deliver: deliver)
        transport.inbound.start()
        return transport
    }

    private init(localID: NodeID, listener: TCPListener, listenAddress: PeerAddress, addressBook: @escaping RaftAddressBook,
                 options: RaftTransportOptions, logger: Logger, group: EventLoopGroup,
                 otherFrames: RaftForeignFrameHandler?, deliver: @escaping @Sendable (Message) -> Void) {
        self.localID = localID
        self.listenAddress = listenAddress
        self.addressBook = addressBook
        self.options = options
        self.logger = logger
        self.group = group
        inbound = InboundListener(listener: listener, localID: localID, options: options, counters: counters,
                                  logger: logger, otherFrames: otherFrames, deliver: deliver)
    }

    // MARK: Sending

    /// Queues `message` for its recipient; never blocks. Dropped (and counted) after ``close(flushing:)``.
    public func send(_ message: Message) {
        guard message.to != localID else { return }
        let sender: PeerSender? = senders.withLock { state in
            guard !state.closed else { return nil }
            if let existing = state.peers[message.to] { return existing }
            let created = PeerSender(peer: message.to, addressBook: addressBook, options: options,
                                     counters: counters, logger: logger, group: group)
            created.start()
            state.peers[message.to] = created
            return created
        }
        guard let sender else {
            counters.update { $0.messagesDropped += 1 }
            return
        }
        sender.send(message)
    }

    /// Stops the outbound connections to peers not in `members` (e.g. after a removal).
    public func retainPeers(_ members: Set<NodeID>) async {
        let removed = senders.withLock { state in
            let gone = state.peers.filter { !members.contains($0.key) }
            for id in gone.keys { state.peers[id] = nil }
            return Array(gone.values)
        }
        for sender in removed { await sender.close(flushing: false) }
    }

    /// Counters since start.
    public var metrics: RaftTransportMetrics { counters.snapshot }

    /// The peers with an outbound sender now (internal for tests).
    var outboundPeers: Set<NodeID> { senders.withLock { Set($0.peers.keys) } }

    /// Inbound connections being read or handed over now (internal for tests).
    var openInboundConnections: Int { inbound.openConnectionCount }

    // MARK: Closing

    /// Stops listening, closes inbound connections, and closes outbound ones after letting their
    /// queues drain for up to `options.flushTimeout` (when `flushing`).
    public func close(flushing: Bool = true) async {
        let all = senders.withLock { state in
            state.closed = true
            defer { state.peers = [:] }
            return Array(state.peers.values)
        }
        await inbound.close()
        await withTaskGroup(of: Void.self) { group in
            for sender in all { group.addTask { await sender.close(flushing: flushing) } }
        }
    }
}

// MARK: - Other protocols on the port

/// Takes an inbound connection whose first frame is not a Raft frame (for example a SWIM
/// push-pull request sharing the internode port): the frame and the connection, which the
/// handler answers on. The connection is the handler's until it returns; it is closed then if the
/// handler did not close it, and cancelled with the transport. The peer must send that one frame
/// and wait for an answer before sending more (bytes that arrived along with the first frame
/// make the listener refuse the connection instead).
public typealias RaftForeignFrameHandler = @Sendable (Frame, FramedConnection) async -> Void
