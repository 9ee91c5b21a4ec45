import DiscoCore
import DiscoNet
import Synchronization

// MARK: - Options

/// Tunables of ``RaftTransport``.
public struct RaftTransportOptions: Sendable {
    /// Largest piece of a chunked message; messages encoding larger than this are chunked.
    public var chunkSize: Int = RaftWireFormat.defaultChunkSize
    /// Largest message accepted after reassembly.
    public var maxMessageBytes: Int = RaftWireFormat.defaultMaxMessageBytes
    /// Messages queued per peer before the oldest are dropped.
    public var maxQueuedMessages: Int = 4096
    /// Approximate bytes queued per peer before the oldest messages are dropped.
    public var maxQueuedBytes: Int = 128 << 20
    /// Bound on one connection attempt.
    public var connectTimeout: Duration = .seconds(2)
    /// First reconnect delay; it doubles per failed attempt up to `maxBackoff`, with jitter.
    public var initialBackoff: Duration = .milliseconds(20)
    public var maxBackoff: Duration = .seconds(1)
    /// How long an inbound connection may stay silent before it is closed (after one to two
    /// times this), so a peer whose host vanished without closing, or that stalled inside a
    /// chunked message, does not hold a connection and its buffers forever. A leader sends to its
    /// followers every tick, so live connections from it never idle this long; a sender whose
    /// idle connection was closed reconnects for its next message.
    public var inboundIdleTimeout: Duration = .seconds(120)
    /// How long ``RaftTransport/close(flushing:)`` waits for queued messages to go out.
    public var flushTimeout: Duration = .seconds(1)
    /// What inbound connections run over: plain TCP, or a TLS server (`-node-cert`, and with
    /// `-node-verify-client` mutual TLS).
    public var acceptTransport: any ByteStreamTransportFactory = PlainTransportFactory()
    /// What connections to peers run over: plain TCP, or a TLS client presenting this node's
    /// certificate and verifying the peer's (unless `-node-no-verify`).
    public var connectTransport: any ByteStreamTransportFactory = PlainTransportFactory()
    /// Seals outgoing frames and opens incoming ones (discod: with `-gossip-key`); nil sends and
    /// accepts plain frames only.
    public var protection: (any RaftFrameProtection)?
    /// The cluster this node belongs to (discod: `-cluster-name`). When set, every outbound
    /// connection starts with a ``RaftHello`` naming it, and an inbound connection whose hello
    /// names another cluster is closed before any of its messages is read (counted in
    /// ``RaftTransportMetrics/clusterRefused``). Connections without a hello (older builds) are
    /// accepted. Nil: no hello is sent and every cluster's is accepted.
    public var clusterName: String?

    public init() {}

    /// Checks the options, naming the first one out of range.
    public func validate() throws(RaftError) {
        guard chunkSize >= 1, chunkSize <= RaftWireFormat.maxChunkSize else {
            throw RaftError(.invalidArgument, "chunkSize must be 1...\(RaftWireFormat.maxChunkSize) bytes, got \(chunkSize)")
        }
        guard maxMessageBytes >= chunkSize else {
            throw RaftError(.invalidArgument, "maxMessageBytes (\(maxMessageBytes)) must be at least chunkSize (\(chunkSize))")
        }
        guard maxQueuedMessages >= 1, maxQueuedBytes >= 1 else {
            throw RaftError(.invalidArgument, "maxQueuedMessages and maxQueuedBytes must be at least 1")
        }
        guard inboundIdleTimeout > .zero else {
            throw RaftError(.invalidArgument, "inboundIdleTimeout must be positive, got \(inboundIdleTimeout)")
        }
        guard initialBackoff > .zero, maxBackoff >= initialBackoff else {
            throw RaftError(.invalidArgument, "initialBackoff must be positive and at most maxBackoff")
        }
        if let clusterName, RaftHello.message(cluster: clusterName) == nil {
            throw RaftError(.invalidArgument, "clusterName \(clusterName.debugDescription) is not a valid name "
                            + "(non-empty, at most 256 bytes, no whitespace or control characters)")
        }
    }

    /// The largest frame payload a peer may send us (whatever its chunk size).
    var maxFramePayload: Int { RaftWireFormat.maxChunkSize + RaftWireFormat.chunkHeaderSize + RaftWireFormat.sealingAllowance }
}

// MARK: - Metrics

/// Counters of one transport since it started.
public struct RaftTransportMetrics: Sendable, Hashable {
    /// Messages written to a peer's connection.
    public var messagesSent = 0
    /// Messages discarded: the peer's queue was full, or the connection failed while writing them.
    public var messagesDropped = 0
    /// Messages decoded from inbound connections.
    public var messagesReceived = 0
    /// Messages addressed to another node (dropped).
    public var messagesMisdirected = 0
    /// Inbound connections closed because a frame could not be read.
    public var badFrames = 0
    /// Outbound connections established.
    public var connects = 0
    /// Outbound connection attempts that failed (or found no address).
    public var connectFailures = 0
    /// Inbound connections accepted.
    public var inboundConnections = 0
    /// Inbound connections whose first frame belonged to another protocol and were handed to
    /// its handler.
    public var connectionsHandedOver = 0
    /// Inbound connections closed at their ``RaftHello`` because it names another cluster than
    /// ``RaftTransportOptions/clusterName`` (also counted in `badFrames`).
    public var clusterRefused = 0
    /// Inbound Raft connections without a ``RaftHello`` (from an older build), accepted; counted
    /// only when ``RaftTransportOptions/clusterName`` is set.
    public var unlabelledConnections = 0

    public init() {}
}

/// The shared, lock-protected counters.
final class TransportCounters: Sendable {
    private let metrics = Mutex(RaftTransportMetrics())

    func update(_ body: (inout RaftTransportMetrics) -> Void) { metrics.withLock { body(&$0) } }
    var snapshot: RaftTransportMetrics { metrics.withLock { $0 } }
}

// MARK: - Back-off

/// Exponential back-off with full jitter: the n-th delay is uniform in [d/2, d] where d doubles
/// from `initial` up to `maximum`.
struct Backoff {
    let initial: Duration
    let maximum: Duration
    private var current: Duration

    init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
        current = initial
    }

    mutating func nextDelay() -> Duration {
        let ceiling = current
        current = min(maximum, current * 2)
        let nanos = max(1, Int64(ceiling.components.seconds) * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000)
        return .nanoseconds(Int64.random(in: (nanos / 2)...nanos))
    }

    mutating func reset() { current = initial }
}

// MARK: - Address book

/// Where a peer's Raft port is now; nil when unknown. Consulted on every connection attempt (and
/// before every write batch), so addresses may change at runtime.
public typealias RaftAddressBook = @Sendable (NodeID) -> PeerAddress?
