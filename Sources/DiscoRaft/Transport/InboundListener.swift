import DiscoCore
import DiscoNet
import Synchronization

// MARK: - InboundListener

/// Accepts internode connections from any number of peers and decodes their frames into
/// messages. A connection whose frames cannot be read is closed with a logged reason; the
/// listener and every other connection carry on.
///
/// A connection whose first Raft message is a ``RaftHello`` naming another cluster than
/// ``RaftTransportOptions/clusterName`` is closed before any message of it is delivered.
///
/// A connection whose first frame is not a Raft frame is handed to `otherFrames` when one is
/// set (another protocol sharing the port); the handler runs on the connection's task, so
/// ``close()`` cancels it, waits for it and closes its connection like any other.
final class InboundListener: Sendable {
    private struct Connections {
        var open: [Int: (connection: TCPConnection, task: Task<Void, Never>)] = [:]
        var nextKey = 0
        var closed = false
    }

    let listener: TCPListener
    private let localID: NodeID
    private let options: RaftTransportOptions
    private let counters: TransportCounters
    private let logger: Logger
    private let deliver: @Sendable (Message) -> Void
    private let otherFrames: RaftForeignFrameHandler?
    private let connections = Mutex(Connections())
    private let acceptTask = Mutex<Task<Void, Never>?>(nil)
    /// How long to wait after a failed accept before the next one.
    static let acceptRetryPause = Duration.milliseconds(100)
    /// A refusal is logged once per peer host, reason and 10 s (each is counted in `badFrames`).
    /// Keyed by host, not `host:port`: a peer reconnecting in a loop comes from a new port each
    /// time. Remembers at most 256 hosts.
    private let refusalLog = Mutex(KeyedLogThrottle<String>(interval: .seconds(10), capacity: 256))
    /// The origin of the times given to `refusalLog`.
    private let created = ContinuousClock.now

    init(listener: TCPListener, localID: NodeID, options: RaftTransportOptions, counters: TransportCounters,
         logger: Logger, otherFrames: RaftForeignFrameHandler?, deliver: @escaping @Sendable (Message) -> Void) {
        self.listener = listener
        self.localID = localID
        self.options = options
        self.counters = counters
        self.logger = logger
        self.deliver = deliver
        self.otherFrames = otherFrames
    }

    func start() {
        let task = Task { [self] in
            while true {
                let connection: TCPConnection
                do {
                    connection = try await listener.accept()
                } catch let error as NetworkError where error.code == .ioFailed {
                    // A failed accept (no descriptor left: sockets keep clear of the last few,
                    // DescriptorHeadroom) leaves the listener as it was: pause, then accept again.
                    if connections.withLock({ $0.closed }) { return }
                    logger.warning("Raft listener on \(listener.localAddress): accept failed, retrying: \(error)")
                    try? await Task.sleep(for: Self.acceptRetryPause)
                    continue
                } catch {
                    if !connections.withLock({ $0.closed }) {
                        logger.error("Raft listener on \(listener.localAddress) stopped: \(error)")
                    }
                    return
                }
                counters.update { $0.inboundConnections += 1 }
                adopt(connection)
            }
        }
        acceptTask.withLock { $0 = task }
    }

    /// Stops accepting and closes every inbound connection (cancelling the handlers of
    /// connections handed to `otherFrames`), then waits for their tasks.
    func close() async {
        let open = connections.withLock { state in
            state.closed = true
            defer { state.open = [:] }
            return Array(state.open.values)
        }
        listener.close()
        for (connection, task) in open {
            connection.close()
            task.cancel()
        }
        await acceptTask.withLock({ $0 })?.value
        for (_, task) in open { await task.value }
    }

    /// Connections being read or handled now.
    var openConnectionCount: Int { connections.withLock { $0.open.count } }

    // MARK: Reading one connection

    private func adopt(_ connection: TCPConnection) {
        let adopted = connections.withLock { state -> Bool in
            guard !state.closed else { return false }
            let key = state.nextKey
            state.nextKey += 1
            // Registered under the lock, so the task's own removal always finds its entry.
            let task = Task { [self] in
                await read(connection)
                connection.close()
                _ = connections.withLock { $0.open.removeValue(forKey: key) }
            }
            state.open[key] = (connection, task)
            return true
        }
        if !adopted { connection.close() }
    }

    private func read(_ connection: TCPConnection) async {
        var decoder = FrameDecoder(maxPayloadBytes: options.maxFramePayload)
        var assembler = RaftFrameAssembler(maxMessageBytes: options.maxMessageBytes)
        let peer = connection.remoteAddress.description
        var isFirstFrame = true
        var awaitingHello = true
        let progress = ReadProgress()
        let watchdog = Task { [options, logger] in
            var seen = -1
            while !Task.isCancelled {
                try? await Task.sleep(for: options.inboundIdleTimeout)
                let now = progress.reads.load(ordering: .relaxed)
                guard !Task.isCancelled, now != seen else { break }
                seen = now
            }
            guard !Task.isCancelled else { return }
            logger.info("closing internode connection from \(peer): silent for more than \(options.inboundIdleTimeout)")
            connection.close()
        }
        defer { watchdog.cancel() }
        do {
            while true {
                let (read, rest) = try await nextFrame(connection, decoder, progress)
                decoder = rest
                guard let frame = read else { break }
                if isFirstFrame {
                    isFirstFrame = false
                    if !RaftWireFormat.isRaftFrameType(frame.type), let otherFrames {
                        guard decoder.bufferedBytes == 0 else {
                            reject(peer, "frame type \(frame.type) was followed by \(decoder.bufferedBytes) more bytes before any answer; "
                                   + "a connection for another protocol must send one frame and wait for the reply")
                            return
                        }
                        counters.update { $0.connectionsHandedOver += 1 }
                        watchdog.cancel()  // the connection is the other protocol's now
                        await otherFrames(frame, FramedConnection(connection, maxPayloadBytes: options.maxFramePayload))
                        return
                    }
                }
                let raftFrame: Frame
                switch opened(frame, from: peer) {
                case .success(let inner): raftFrame = inner
                case .failure(let refusal):
                    reject(peer, refusal.reason)
                    return
                }
                if awaitingHello {
                    awaitingHello = false
                    switch greeting(raftFrame) {
                    case .hello: continue
                    case .unlabelled: break
                    case .refused(let reason):
                        reject(peer, reason)
                        return
                    }
                }
                guard let message = try assembler.accept(raftFrame) else { continue }
                guard message.to == localID else {
                    counters.update { $0.messagesMisdirected += 1 }
                    logger.debug("dropping Raft message for \(message.to) from \(peer): this node is \(localID)")
                    continue
                }
                counters.update { $0.messagesReceived += 1 }
                deliver(message)
            }
            if assembler.isReassembling {
                reject(peer, "stream ended inside a chunked message")
            }
        } catch let error as FrameError {
            reject(peer, error.description)
        } catch let error as RaftError {
            reject(peer, error.message)
        } catch {
            if !connections.withLock({ $0.closed }) {
                logger.debug("internode connection from \(peer) ended: \(error)")
            }
        }
    }

    /// The next frame of `connection`, nil when the peer closed it cleanly. Reads only as much as
    /// needed, so what follows a frame handed over stays unread unless it arrived with it.
    /// (The decoder goes in and out by value: an `inout` across the suspension crashes the
    /// optimizing compiler's coroutine splitting in this toolchain.)
    private func nextFrame(_ connection: TCPConnection, _ decoder: FrameDecoder,
                           _ progress: ReadProgress) async throws -> (Frame?, FrameDecoder) {
        var decoder = decoder
        while true {
            if let frame = try decoder.next() { return (frame, decoder) }
            guard let bytes = try await connection.read() else {
                try decoder.finish()
                return (nil, decoder)
            }
            progress.reads.add(1, ordering: .relaxed)
            decoder.append(bytes)
        }
    }

    /// The Raft frame `frame` carries: opened by the protection when there is one; a sealed frame
    /// without one is refused.
    private func opened(_ frame: Frame, from peer: String) -> Result<Frame, RaftFrameRefusal> {
        if let protection = options.protection { return protection.incoming(frame, from: peer) }
        guard frame.type != RaftWireFormat.sealedFrameType else {
            return .failure(RaftFrameRefusal("the frame is sealed with a key, but this node runs without one "
                                             + "(give every node the same -gossip-key or keyring)"))
        }
        return .success(frame)
    }

    // MARK: The sender's cluster

    /// What the first Raft frame of a connection says about the sender's cluster.
    private enum Greeting {
        /// A ``RaftHello`` naming this node's cluster (or any, without a name here): not a message.
        case hello
        /// No hello (an older build): the frame is the first message.
        case unlabelled
        /// A hello naming another cluster: close the connection before reading more.
        case refused(String)
    }

    /// Frames larger than this are never a hello, and are not decoded twice to find out.
    private static let maxHelloFrameBytes = 1024

    private func greeting(_ frame: Frame) -> Greeting {
        guard frame.payload.count <= Self.maxHelloFrameBytes, let theirs = RaftHello.cluster(in: frame) else {
            if options.clusterName != nil { counters.update { $0.unlabelledConnections += 1 } }
            return .unlabelled
        }
        guard let mine = options.clusterName, theirs != mine else { return .hello }
        counters.update { $0.clusterRefused += 1 }
        return .refused("its Raft comes from cluster \(theirs.debugDescription), this node's cluster is \(mine.debugDescription) "
                        + "(-cluster-name); a node of cluster \(theirs.debugDescription) still sends to this node's address "
                        + "(reused from a departed member of that cluster? remove it there), or the nodes' -cluster-name differ")
    }

    // MARK: Refusals

    private func reject(_ peer: String, _ reason: String) {
        counters.update { $0.badFrames += 1 }
        let now = ContinuousClock.now - created
        let (log, suppressed) = refusalLog.withLock { $0.shouldLog(Self.host(of: peer), detail: reason, at: now) }
        guard log else { return }
        let held = suppressed > 0 ? " (\(suppressed) more from this host since the last line)" : ""
        logger.warning("closing internode connection from \(peer): \(reason)\(held)")
    }

    /// `peer` (`host:port` or `[v6]:port`) without its port (the whole string when it has none).
    static func host(of peer: String) -> String {
        guard let colon = peer.lastIndex(of: ":") else { return peer }
        let host = peer[..<colon]
        if host.hasPrefix("[") || !host.contains(":") { return String(host) }
        return peer
    }
}

/// Reads done on one inbound connection, for its idle watchdog.
private final class ReadProgress: Sendable {
    let reads = Atomic<Int>(0)
}
