import DiscoCore
import DiscoNet
import Synchronization

// MARK: - InboundListener

/// Accepts internode connections from any number of peers and decodes their frames into
/// messages. A connection whose frames cannot be read is closed with a logged reason; the
/// listener and every other connection carry on.
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
    private let connections = Mutex(Connections())
    private let acceptTask = Mutex<Task<Void, Never>?>(nil)

    init(listener: TCPListener, localID: NodeID, options: RaftTransportOptions, counters: TransportCounters,
         logger: Logger, deliver: @escaping @Sendable (Message) -> Void) {
        self.listener = listener
        self.localID = localID
        self.options = options
        self.counters = counters
        self.logger = logger
        self.deliver = deliver
    }

    func start() {
        let task = Task { [self] in
            while true {
                let connection: TCPConnection
                do {
                    connection = try await listener.accept()
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

    /// Stops accepting and closes every inbound connection.
    func close() async {
        let open = connections.withLock { state in
            state.closed = true
            defer { state.open = [:] }
            return Array(state.open.values)
        }
        listener.close()
        for (connection, _) in open { connection.close() }
        await acceptTask.withLock({ $0 })?.value
        for (_, task) in open { await task.value }
    }

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
        let framed = FramedConnection(connection, maxPayloadBytes: options.maxFramePayload)
        var assembler = RaftFrameAssembler(maxMessageBytes: options.maxMessageBytes)
        let peer = connection.remoteAddress.description
        do {
            for try await frame in framed.frames() {
                guard let message = try assembler.accept(frame) else { continue }
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

    private func reject(_ peer: String, _ reason: String) {
        counters.update { $0.badFrames += 1 }
        logger.warning("closing internode connection from \(peer): \(reason)")
    }
}
