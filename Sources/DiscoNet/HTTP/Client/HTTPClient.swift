import DiscoCore
import Synchronization

// MARK: - HTTP/1.1 client

/// Settings for an ``HTTPClient``.
public struct HTTPClientConfiguration: Sendable {
    /// Bound on establishing a TCP connection.
    public var connectTimeout: Duration
    /// Bound on a whole request (connect, send, receive) when `send` is given no timeout.
    public var requestTimeout: Duration
    /// Most open connections per `host:port`; further requests wait for one.
    public var maxConnectionsPerHost: Int
    /// Idle pooled connections older than this are closed instead of reused.
    public var idleTimeout: Duration
    /// Limits applied to responses (header size, body size). `maxBodyBytes` bounds a whole body
    /// read by ``HTTPClient/send(_:timeout:)``; for a body read as a stream
    /// (``HTTPClient/execute(_:timeout:)``) it bounds each chunk, not the stream's total.
    public var limits: HTTPParserLimits
    /// What runs over each TCP connection of an `http://` URL (plain TCP by default).
    public var transport: any ByteStreamTransportFactory
    /// What runs over each TCP connection of an `https://` URL: by default TLS verifying servers
    /// against the system's CAs; a ``TLSTransportFactory`` with another CA or a client
    /// certificate plugs in here.
    public var httpsTransport: any ByteStreamTransportFactory
    /// Addresses never connected to (nil: none): asked once for each address a host resolves to
    /// when a new connection is opened, never for a request on a pooled connection. A host that
    /// resolves only to such addresses fails with ``HTTPClientError/Code-swift.struct/excludedAddress``.
    public var addressFilter: (any ConnectAddressFilter)?

    public init(
        connectTimeout: Duration = .seconds(5),
        requestTimeout: Duration = .seconds(30),
        maxConnectionsPerHost: Int = 8,
        idleTimeout: Duration = .seconds(50),
        limits: HTTPParserLimits = HTTPParserLimits(maxBodyBytes: 64 * 1024 * 1024),
        transport: any ByteStreamTransportFactory = PlainTransportFactory(),
        httpsTransport: any ByteStreamTransportFactory = TLSTransportFactory.systemClient,
        addressFilter: (any ConnectAddressFilter)? = nil
    ) {
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxConnectionsPerHost = maxConnectionsPerHost
        self.idleTimeout = idleTimeout
        self.limits = limits
        self.transport = transport
        self.httpsTransport = httpsTransport
        self.addressFilter = addressFilter
    }

    /// The factory for `url`'s scheme.
    func transport(for url: HTTPURL) -> any ByteStreamTransportFactory {
        url.isTLS ? httpsTransport : transport
    }
}

/// A small HTTP/1.1 client (`http://` URLs over plain TCP, `https://` over TLS) with
/// per-host keep-alive pools, whole-body (``send(_:timeout:)``) and streaming
/// (``execute(_:timeout:)``) exchanges, and protocol upgrades (``upgrade(_:timeout:)``, or
/// ``executeUpgrade(_:timeout:)`` for an answer that does not switch read as a stream).
///
/// Redirects are returned to the caller (``send(_:timeout:)``) unless the caller asks for them
/// to be followed (``send(_:followingRedirects:credentials:timeout:)``, which never leaves TLS
/// for plain HTTP). A request is retried once, on a new
/// connection, only when a pooled connection turns out to be stale before any byte of the
/// response arrived, and only if the request is idempotent or was not fully written.
public final class HTTPClient: Sendable {
    public let configuration: HTTPClientConfiguration
    /// The loops connections are made on; nil: the shared group (``EventLoopGroup/startShared()``),
    /// started by the first connection that needs it.
    let group: EventLoopGroup?
    let pool: HTTPConnectionPool

    /// A client whose connections run on `group`'s loops; without one, on the shared group's,
    /// started by the first connection: when its loops cannot start (no descriptor or memory
    /// left), that request fails with an error saying so (``HTTPClientError/Code/connectFailed``),
    /// and a later one tries again.
    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration(), group: EventLoopGroup? = nil) {
        self.configuration = configuration
        self.group = group
        self.pool = HTTPConnectionPool(maxPerHost: configuration.maxConnectionsPerHost, idleTimeout: configuration.idleTimeout)
    }

    /// TCP connections opened so far (reuse shows as fewer connections than requests).
    public var connectionsOpened: Int {
        get async { pool.connectionsOpened }
    }

    /// Closes idle connections; later requests fail with `.shutDown`.
    public func shutdown() async {
        pool.shutdown()
    }

    // MARK: Sending

    /// Sends one request and returns its response with the whole body, including 3xx responses.
    /// `timeout` (default ``HTTPClientConfiguration/requestTimeout``) bounds the whole exchange.
    public func send(_ request: HTTPClientRequest, timeout: Duration? = nil) async throws -> HTTPClientResponse {
        let url = try request.parsedURL()
        let limit = timeout ?? configuration.requestTimeout
        return try await withDeadline(limit, host: url.authority) {
            let response = try await self.startWithRetry(request, url: url, bodyLimitScope: .wholeBody)
            let body = try await response.body.collect(upTo: Int.max)
            return HTTPClientResponse(status: response.status, reason: response.reason, version: response.version,
                                      headers: response.headers, body: body, trailers: response.body.trailers)
        }
    }

    /// Sends one request and returns as soon as the response head has arrived; the body is read
    /// from ``HTTPClientStreamingResponse/body`` as a stream, with back-pressure. A streamed
    /// request body (``HTTPClientRequest/bodyStream``) is sent while the response is read.
    ///
    /// `timeout` bounds the exchange up to the response head; reading the body is bounded by the
    /// caller (cancelling the reading task closes the connection). The connection returns to the
    /// pool once the body has been read to its end; dropping the response earlier closes it.
    ///
    /// ``HTTPClientConfiguration/limits`` bound each chunk of the body (what a reader may have to
    /// buffer for one message), not the total: a long-lived stream (a watch) is not cut.
    public func execute(_ request: HTTPClientRequest, timeout: Duration? = nil) async throws -> HTTPClientStreamingResponse {
        let url = try request.parsedURL()
        var limit = timeout ?? configuration.requestTimeout
        if let loop = currentLoop {
            switch try await startOnIdleConnection(request, url: url, limit: limit, loop: loop) {
            case .started(let response): return response
            case .notApplicable: break
            case .retry(let remaining): limit = remaining
            }
        }
        return try await withDeadline(limit, host: url.authority) {
            try await self.startWithRetry(request, url: url, bodyLimitScope: .eachChunk)
        }
    }

    // MARK: Internals

    private func startWithRetry(
        _ request: HTTPClientRequest, url: HTTPURL, bodyLimitScope: HTTPBodyLimitScope
    ) async throws -> HTTPClientStreamingResponse {
        let key = url.origin
        let pool = self.pool
        var lease = try await pool.acquire(key)
        while true {
            let connection: TCPConnection
            let reused: Bool
            switch lease {
            case .reuse(let pooled):
                if await pooled.isStale() {
                    pool.release(key, connection: nil)
                    lease = try await pool.acquire(key)
                    continue
                }
                connection = pooled
                reused = true
            case .open:
                do {
                    connection = try await TCPConnection.connect(
                        host: url.host, port: url.port, timeout: configuration.connectTimeout, group: try connectionGroup(host: url.authority),
                        transport: configuration.transport(for: url), excluding: configuration.addressFilter)
                } catch {
                    pool.release(key, connection: nil)
                    throw Self.connectError(error, host: url.authority)
                }
                reused = false
            }
            let exchange = HTTPClientExchange(connection: connection, url: url, limits: configuration.limits,
                                              bodyLimitScope: bodyLimitScope)
            do {
                let started = try await exchange.start(request)
                return streamingResponse(started, on: connection, key: key, host: url.authority)
            } catch let failure as HTTPClientExchange.Failure {
                connection.close()
                pool.release(key, connection: nil)
                let retryable = reused && !failure.receivedResponseBytes && request.bodyStream == nil
                    && (request.isIdempotent || !failure.requestWritten)
                if retryable && !Task.isCancelled {
                    lease = try await pool.acquire(key)
                    continue
                }
                throw failure.error
            } catch {
                connection.close()
                pool.release(key, connection: nil)
                throw error
            }
        }
    }

    /// The response whose head `started` holds, its body read from `connection` (which goes
    /// back to the pool under `key` after the body's end).
    func streamingResponse(_ started: HTTPClientExchange.Started, on connection: TCPConnection, key: String,
                           host: String) -> HTTPClientStreamingResponse {
        let pool = self.pool
        let stream = HTTPClientResponseStream(
            host: host, connection: connection, reader: started.reader, keepAlive: started.keepAlive,
            upload: started.upload, release: { pool.release(key, connection: $0) })
        stream.finishIfBodyless()
        let head = started.head
        return HTTPClientStreamingResponse(status: head.status, reason: head.reason, version: head.version,
                                           headers: head.headers, body: HTTPClientResponseBody(stream: stream))
    }

    /// The group a new connection goes on: the client's, else the shared one, started now when
    /// it is not yet. Loops that cannot start fail the request, naming why.
    func connectionGroup(host: String) throws(HTTPClientError) -> EventLoopGroup {
        if let group { return group }
        do {
            return try EventLoopGroup.startShared()
        } catch {
            throw HTTPClientError(.connectFailed, host: host, detail: "cannot start the shared event loops connections run on: \(error)")
        }
    }

    /// The client's loop this code runs on, if it runs on one (a proxy answering on the same loops).
    var currentLoop: EventLoop? {
        (group ?? EventLoopGroup.sharedIfStarted)?.loops.first { $0.inLoop }
    }

    static func connectError(_ error: any Error, host: String) -> HTTPClientError {
        if let error = error as? HTTPClientError { return error }
        if let network = error as? NetworkError {
            if network.code == .excludedAddress { return HTTPClientError(.excludedAddress, host: host, detail: network.detail) }
            if network.code == .connectTimeout { return HTTPClientError(.connectTimeout, host: host, detail: network.description) }
            return HTTPClientError(.connectFailed, host: host, detail: network.description)
        }
        return HTTPClientError(.connectFailed, host: host, detail: "\(error)")
    }

    /// Runs `body`, failing with `.timeout` after `limit`. The body is cancelled on timeout, which
    /// closes whatever connection it is using.
    ///
    /// Called on one of the client's loops (a proxy answering on the same loops), the deadline is
    /// that loop's timer and the body one task on the loop: no sleeping task, no dispatch timer.
    func withDeadline<T: Sendable>(
        _ limit: Duration, host: String, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        if let loop = currentLoop {
            return try await withLoopDeadline(limit, on: loop, host: host, body)
        }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw HTTPClientError(.timeout, host: host, detail: "no complete response within \(GoDuration.format(limit))")
            }
            return value
        }
    }

    /// ``withDeadline(_:host:_:)`` timed by `loop` (the current thread's loop): the body runs as
    /// one task preferring the loop, awaited here (cancelled with the caller), and a loop timer
    /// cancels it at the deadline.
    private func withLoopDeadline<T: Sendable>(
        _ limit: Duration, on loop: EventLoop, host: String, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let work = Task(executorPreference: loop) { try await body() }
        let watch = LoopDeadlineWatch(work)
        let timer = loop.scheduleTimer(after: limit) { watch.expire() }
        let result = await withTaskCancellationHandler { await work.result } onCancel: { work.cancel() }
        if loop.inLoop { watch.end(timer, on: loop) } else { loop.execute { watch.end(timer, on: loop) } }
        // Expired even when the body succeeded: the timer can fire after the body's last read
        // completed but before it returned, and that cancellation closes the connection the
        // value still reads from. The deadline passed, so it is a timeout either way (a dropped
        // response closes its connection when released).
        if watch.expired.load(ordering: .relaxed) {
            throw HTTPClientError(.timeout, host: host, detail: "no complete response within \(GoDuration.format(limit))")
        }
        return try result.get()
    }
}

/// What the timer of ``HTTPClient/withDeadline(_:host:_:)`` on a loop reaches: the task to
/// cancel, let go once the work has ended. A cancelled timer stays queued until its deadline
/// (cancellation is lazy, see `TimerQueue`), and a task handle keeps the task's result: a
/// timer capturing the task would keep a streamed response, and its upstream connection,
/// alive for the whole timeout after the caller dropped it (a proxy whose client went away
/// mid-body held the upstream connection open, unread, for the read timeout).
/// Loop-confined but for ``expired``.
private final class LoopDeadlineWatch<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `work` is touched only on the loop (the timer, and `end` called on
    // or sent to the loop); `expired` is atomic, read by the caller on any thread.
    private var work: Task<T, any Error>?
    let expired = Atomic<Bool>(false)

    init(_ work: Task<T, any Error>) {
        self.work = work
    }

    /// The deadline passed: cancel the work (which closes the connection it uses).
    func expire() {
        guard let work else { return }
        expired.store(true, ordering: .relaxed)
        work.cancel()
    }

    /// The work ended: let it go and cancel the timer.
    func end(_ timer: TimerID, on loop: EventLoop) {
        work = nil
        loop.cancelTimer(timer)
    }
}
