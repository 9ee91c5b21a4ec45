import DiscoCore
import DiscoNet
import Synchronization

// MARK: - PeerSender

/// The outbound side of one peer: a bounded queue of messages and a task that keeps one TCP
/// connection to the peer's current address, writing everything queued in one batch per wake-up
/// without waiting for replies (pipelining). Failed connects are retried with jittered
/// exponential back-off; messages queued meanwhile wait (the oldest are dropped when full).
final class PeerSender: Sendable {
    let peer: NodeID
    private let queue: BatchQueue<Message>
    private let addressBook: RaftAddressBook
    private let options: RaftTransportOptions
    private let counters: TransportCounters
    private let logger: Logger
    private let group: EventLoopGroup
    /// The first frame of every connection: the cluster's name (nil without one).
    private let hello: Frame?
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(peer: NodeID, addressBook: @escaping RaftAddressBook, options: RaftTransportOptions,
         counters: TransportCounters, logger: Logger, group: EventLoopGroup) {
        self.peer = peer
        self.addressBook = addressBook
        self.options = options
        self.counters = counters
        self.logger = logger
        self.group = group
        hello = options.clusterName.flatMap { RaftHello.frame(cluster: $0) }
        queue = BatchQueue(maxCount: options.maxQueuedMessages, maxBytes: options.maxQueuedBytes,
                           policy: .dropOldest, size: PeerSender.estimatedSize)
    }

    func start() {
        // Senders are created from the node's driver thread; they must not run on it.
        let started = Task(executorPreference: globalConcurrentExecutor) { [self] in await run() }
        task.withLock { $0 = started }
    }

    /// Queues a message; never blocks.
    func send(_ message: Message) {
        let dropped = queue.push(message)
        if dropped > 0 { counters.update { $0.messagesDropped += dropped } }
    }

    /// Stops taking messages, lets the queue drain for up to `flushTimeout` (when `flushing`),
    /// then stops the task and closes the connection.
    func close(flushing: Bool) async {
        queue.close()
        guard let running = task.withLock({ $0 }) else { return }
        if flushing {
            let finished = await withTaskGroup(of: Bool.self) { group in
                group.addTask { await running.value; return true }
                group.addTask { [options] in
                    try? await Task.sleep(for: options.flushTimeout)
                    return false
                }
                let first = await group.next() ?? false
                // The group ends only when both children have: a sender still retrying an
                // unreachable peer must be stopped here, or waiting for its value never returns.
                if !first { running.cancel() }
                group.cancelAll()
                return first
            }
            if finished { return }
        }
        running.cancel()
        await running.value
    }

    // MARK: The connection loop

    private func run() async {
        var backoff = Backoff(initial: options.initialBackoff, maximum: options.maxBackoff)
        var lastFailure: String?
        while !Task.isCancelled {
            // Connect only when there is something to send, so an idle or departed peer costs nothing.
            guard let waiting = await queue.next() else { return }
            guard let address = addressBook(peer) else {
                // Nowhere to send them: drop rather than hold messages for a peer nobody knows.
                counters.update {
                    $0.connectFailures += 1
                    $0.messagesDropped += waiting.count
                }
                report(&lastFailure, "no address known")
                try? await Task.sleep(for: backoff.nextDelay())
                continue
            }
            requeue(waiting)
            let connection: TCPConnection
            do {
                connection = try await TCPConnection.connect(host: address.host, port: address.port,
                                                             timeout: options.connectTimeout, group: group,
                                                             transport: options.connectTransport)
            } catch {
                counters.update { $0.connectFailures += 1 }
                report(&lastFailure, "connect to \(address) failed: \(error)")
                try? await Task.sleep(for: backoff.nextDelay())
                continue
            }
            backoff.reset()
            counters.update { $0.connects += 1 }
            if lastFailure != nil { logger.info("connected to Raft peer \(peer) at \(address)") }
            lastFailure = nil
            if let reason = await pump(connection, address: address) {
                report(&lastFailure, reason)
            }
            connection.close()
        }
    }

    /// Writes batches until the connection fails, the address changes or the queue is closed and
    /// drained. Returns why the connection ended, when it failed.
    private func pump(_ connection: TCPConnection, address: PeerAddress) async -> String? {
        // The peer never writes on this connection: a read ending means it closed or reset.
        let watcher = Task {
            while (try? await connection.read()) != nil {}
            connection.close()
        }
        defer { watcher.cancel() }
        var transferID: UInt64 = 0
        var greeted = false
        while let batch = await queue.next() {
            if let current = addressBook(peer), current != address {
                requeue(batch)
                logger.info("Raft peer \(peer) moved from \(address) to \(current); reconnecting")
                return nil
            }
            // The peer closed this connection while it was idle (it restarted): writing would
            // lose the batch, so keep it for the next connection.
            if await connection.isStale() {
                requeue(batch)
                logger.debug("Raft peer \(peer) at \(address) closed the idle connection; reconnecting")
                return nil
            }
            guard let bytes = encoded(batch, transferID: &transferID, greeting: !greeted) else {
                counters.update { $0.messagesDropped += batch.count }
                return "cannot seal frames for \(address)"
            }
            do {
                try await connection.write(bytes)
                greeted = true
                counters.update { $0.messagesSent += batch.count }
            } catch {
                counters.update { $0.messagesDropped += batch.count }
                return "write to \(address) failed: \(error)"
            }
        }
        return nil
    }

    /// The bytes of `batch`'s frames, after the ``RaftHello`` when `greeting` (the connection's
    /// first write), each sealed when the transport is protected; nil when sealing failed (the
    /// protection logs why).
    private func encoded(_ batch: [Message], transferID: inout UInt64, greeting: Bool) -> [UInt8]? {
        var bytes: [UInt8] = []
        if greeting, let hello {
            guard append(hello, to: &bytes) else { return nil }
        }
        for message in batch {
            transferID &+= 1
            for frame in RaftWireFormat.frames(for: message, chunkSize: options.chunkSize, transferID: transferID) {
                guard append(frame, to: &bytes) else { return nil }
            }
        }
        return bytes
    }

    /// Appends `frame`'s bytes, sealed when the transport is protected; false when sealing failed.
    private func append(_ frame: Frame, to bytes: inout [UInt8]) -> Bool {
        if let protection = options.protection {
            guard let sealed = protection.outgoing(frame) else { return false }
            bytes.append(contentsOf: sealed.encoded())
        } else {
            bytes.append(contentsOf: frame.encoded())
        }
        return true
    }

    private func requeue(_ batch: [Message]) {
        let dropped = queue.pushFront(batch)
        if dropped > 0 { counters.update { $0.messagesDropped += dropped } }
    }

    /// Logs a connection problem once per distinct reason (retries of the same failure at debug).
    private func report(_ last: inout String?, _ reason: String) {
        if last == reason {
            logger.debug("Raft peer \(peer) still unreachable: \(reason)")
        } else {
            logger.warning("Raft peer \(peer) unreachable: \(reason)")
        }
        last = reason
    }

    /// Approximate encoded size, for the queue's byte bound.
    static func estimatedSize(_ message: Message) -> Int {
        switch message.body {
        case .append(let request): 64 + request.entries.reduce(0) { $0 + $1.byteSize }
        case .installSnapshot(let snapshot): 64 + snapshot.data.count
        default: 64
        }
    }
}
