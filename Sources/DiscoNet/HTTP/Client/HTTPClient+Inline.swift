import DiscoCore

// MARK: - Inline exchanges: an idle pooled connection, driven by callbacks on its loop

extension HTTPClient {
    /// How an inline exchange ended.
    public enum InlineOutcome: Sendable {
        /// The response head arrived; the body is read like any streamed response's.
        case started(HTTPClientStreamingResponse)
        /// The whole response arrived in one read and was simple enough to relay as bytes (only
        /// with a ``HTTPRelayFilter``); the connection is back in the pool.
        case relayed(HTTPRelayedResponse)
        /// It failed. `retryable`: nothing of a response arrived and the request was idempotent
        /// or never written, so the caller may send it again on another connection.
        case failed(any Error, retryable: Bool)
        /// The client of the server request it was made for (`cancelledWith`) left before the
        /// response head arrived: the upstream connection was closed (never pooled) and the
        /// request is not answered. (nginx logs such a request with status 499.)
        case abandoned
        /// An interim (1xx) response arrived (only when asked for with `reportingInterim`): the
        /// exchange goes on, and the completion runs again, with the next interim response or
        /// with how the exchange ended.
        case interim(HTTPInterimResponse)
    }

    /// Sends `request` on an idle pooled connection that lives on `loop`, **without a task**:
    /// the write and the reads up to the response head run on the loop thread from readiness,
    /// and `completion` runs there once (possibly before this returns). Returns false, having
    /// done nothing, when it does not apply: not on `loop`, a streamed request body, or no idle
    /// connection to the origin on this loop (take ``execute(_:timeout:)`` then).
    ///
    /// `timeout` bounds the exchange up to the response head (the connection's own re-armed
    /// deadline, which closes it when passed: the failure is then ``HTTPClientError/Code-swift.struct/timeout``).
    /// A connection the peer has closed fails the exchange as retryable before anything is sent.
    ///
    /// With `relay`, a response that arrives whole and simple (see ``HTTPRelayedResponse``)
    /// comes back as `.relayed`, its fields already filtered and encoded, without the general
    /// parser (not for HEAD, whose response has no body to check the length against).
    ///
    /// With `reportingInterim`, each interim (1xx) response is passed to `completion` as
    /// `.interim` as soon as it is parsed, in order, before the completion runs with how the
    /// exchange ended; without it they are skipped. (``HTTPClientRequest/onInterim`` is not
    /// called here.)
    public func executeInline(
        _ request: HTTPClientRequest, timeout: Duration? = nil, on loop: EventLoop, relay: HTTPRelayFilter? = nil,
        reportingInterim: Bool = false, completion: @escaping (InlineOutcome) -> Void
    ) -> Bool {
        guard request.bodyStream == nil, loop.inLoop, let url = try? request.parsedURL() else { return false }
        return executeInline(method: request.method, key: url.origin, authority: url.authority,
                             writeHead: { $0.append(contentsOf: HTTPClientExchange.encode(request, url: url)) },
                             timeout: timeout, on: loop, relay: relay, reportingInterim: reportingInterim, reply: nil,
                             completion: completion)
    }

    /// The same for a request to `target` on `origin` that has no body, its header fields written
    /// by `encodeFields` straight into the request's buffer after the request line, each
    /// `Name: value\r\n`, `Host` included (a proxy that rewrites a request's fields into bytes; no
    /// `Content-Length` or `Transfer-Encoding`: the client frames the request). `fieldsSize` is
    /// about how many bytes they take, for the buffer's first size; `encodeFields` runs once, and
    /// only when an idle connection was found. No request value is made. Returns false also
    /// for a target that is not a path (`/` first, no whitespace or control characters). `target`
    /// is the target's UTF-8 bytes, read only during the call.
    ///
    /// With `cancelledWith`, the server request this one is made for (a proxy's): if its client
    /// leaves before the response head arrives, the exchange stops there (its connection closed,
    /// not pooled) and `completion` gets `.abandoned`. Watching costs nothing per request.
    public func executeInline(
        method: String, origin: HTTPOrigin, target: UnsafeBufferPointer<UInt8>, fieldsSize: Int, encodeFields: (inout [UInt8]) -> Void,
        timeout: Duration? = nil, on loop: EventLoop, relay: HTTPRelayFilter? = nil, reportingInterim: Bool = false,
        cancelledWith reply: HTTPInlineReply? = nil, completion: @escaping (InlineOutcome) -> Void
    ) -> Bool {
        guard loop.inLoop, target.first == UInt8(ascii: "/"), !Self.holdsSpaceOrControl(target) else {
            return false
        }
        return executeInline(method: method, key: origin.base.origin, authority: origin.base.authority, writeHead: { head in
            head.reserveCapacity(method.utf8.count + target.count + fieldsSize + 40)
            head.appendUTF8(method)
            head.append(HTTPSyntax.space)
            head.append(contentsOf: target)
            head.appendUTF8(" HTTP/1.1\r\n" as StaticString)
            encodeFields(&head)
            if HTTPClientExchange.sendsEmptyLength(method) { head.appendUTF8("Content-Length: 0\r\n" as StaticString) }
            head.appendUTF8("\r\n" as StaticString)
        }, timeout: timeout, on: loop, relay: relay, reportingInterim: reportingInterim, reply: reply, completion: completion)
    }

    /// Whether `bytes` hold a space, a control character or DEL (an index loop: the generic
    /// `contains(where:)` walks an iterator byte by byte).
    private static func holdsSpaceOrControl(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for index in 0..<bytes.count where bytes[index] <= 0x20 || bytes[index] == 0x7F { return true }
        return false
    }

    /// `writeHead` runs only once an idle connection is taken (a request that falls back to the
    /// general path is not encoded twice), into the buffer of the exchange the connection's last
    /// inline request left (reused with its storage) or a new one.
    private func executeInline(
        method: String, key: String, authority: String, writeHead: (inout [UInt8]) -> Void, timeout: Duration?, on loop: EventLoop,
        relay: HTTPRelayFilter?, reportingInterim: Bool, reply: HTTPInlineReply?, completion: @escaping (InlineOutcome) -> Void
    ) -> Bool {
        guard let (connection, spare) = pool.takeIdleWithSpare(key, on: loop) else { return false }
        let exchange = (spare as? InlineClientExchange) ?? InlineClientExchange(client: self)
        exchange.begin(connection: connection, key: key, authority: authority, method: method,
                       limit: timeout ?? configuration.requestTimeout, relay: method == "HEAD" || method == "CONNECT" ? nil : relay,
                       reportingInterim: reportingInterim, completion: completion, writeHead: writeHead)
        reply?.watchDeparture(exchange, token: exchange.generation)
        exchange.start()
        return true
    }
}

// MARK: - One inline exchange

/// The state of one ``HTTPClient/executeInline(_:timeout:on:relay:completion:)`` at a time:
/// kept alive by the channel's pending callback until the head arrives or the exchange fails.
/// One that ended with a relayed response goes back to the pool with its connection and serves
/// that connection's next inline request (its head buffer keeps its storage).
private final class InlineClientExchange: HTTPClientDepartureObserver, @unchecked Sendable {
    // @unchecked Sendable: loop-confined. It is used only on its connection's loop, and parked in
    // the pool with that connection, which hands it back only to a caller on the same loop
    // (takeIdleWithSpare filters by loop); parked, nothing touches it. Its mutable state skips
    // the runtime exclusivity check: loop-confined, no access overlaps another, and the
    // completion is taken out before it runs.
    let client: HTTPClient
    /// The connection of the current exchange (nil while parked: the pool holds it beside).
    @exclusivity(unchecked) private var connection: TCPConnection?
    /// The pool's key for the origin, and its `host:port` for errors.
    @exclusivity(unchecked) private var key = ""
    @exclusivity(unchecked) private var authority = ""
    @exclusivity(unchecked) private var method = ""
    @exclusivity(unchecked) private var head: [UInt8] = []
    @exclusivity(unchecked) private var limit: Duration = .zero
    @exclusivity(unchecked) private var relay: HTTPRelayFilter?
    /// Whether interim (1xx) responses are passed to the completion.
    @exclusivity(unchecked) private var reportsInterim = false
    @exclusivity(unchecked) private var completion: ((HTTPClient.InlineOutcome) -> Void)?
    /// The general response parser, made only when the response is not relayed.
    @exclusivity(unchecked) private var reader: HTTPClientResponseReader?
    @exclusivity(unchecked) private var written = false
    @exclusivity(unchecked) private var deadline: UInt64 = 0
    /// Counts the exchanges this object has served: a server request's departure names the
    /// one it was registered for (the object serves later requests on the same connection).
    @exclusivity(unchecked) private(set) var generation: UInt64 = 0

    init(client: HTTPClient) {
        self.client = client
    }

    /// Sets up an exchange on `connection`; `writeHead` writes the request into the (emptied) buffer.
    func begin(connection: TCPConnection, key: String, authority: String, method: String, limit: Duration, relay: HTTPRelayFilter?,
               reportingInterim: Bool, completion: @escaping (HTTPClient.InlineOutcome) -> Void, writeHead: (inout [UInt8]) -> Void) {
        self.connection = connection
        generation &+= 1
        // A reused exchange usually serves the same origin again, given the same strings: an
        // equal one is kept (comparing the same string is cheaper than retaining it anew and
        // releasing the old).
        if self.key != key { self.key = key }
        if self.authority != authority { self.authority = authority }
        self.method = method
        self.limit = limit
        self.relay = relay
        reportsInterim = reportingInterim
        self.completion = completion
        reader = nil
        written = false
        deadline = 0
        head.removeAll(keepingCapacity: true)
        writeHead(&head)
    }

    /// Whether any response bytes went to the general parser.
    private var receivedBytes: Bool { reader?.receivedBytes ?? false }

    private func makeReader() -> HTTPClientResponseReader {
        HTTPClientResponseReader(requestMethod: method, limits: client.configuration.limits)
    }

    func start() {
        guard let connection else { return }
        let channel = connection.channel
        // A stale connection fails before anything is sent; checking costs a system call, so
        // requests that may be repeated skip it (a stale connection then fails them before any
        // response byte, which is as retryable).
        if channel.closed || (!HTTPClientRequest.isIdempotent(method) && channel.peerHasClosed) {
            fail(HTTPClientError(.connectionClosed, host: authority, detail: "the pooled connection was closed by the peer"))
            return
        }
        deadline = channel.loop.turnNanoseconds &+ MonotonicClock.nanoseconds(limit)
        channel.setDeadline(at: deadline)
        channel.write(head) { result in
            switch result {
            case .success:
                self.written = true
                self.readMore(tryNow: false)
            case .failure(let error):
                self.fail(error)
            }
        }
    }

    /// Reads until the head is parsed; right after the request was sent nothing can be there
    /// yet (`tryNow: false` waits for readiness instead of a read that would find nothing).
    private func readMore(tryNow: Bool = true) {
        // The callback captures only `self` (one reference: no context to allocate).
        connection?.channel.read(max: 64 * 1024, tryNow: tryNow) { result in
            guard let connection = self.connection else { return }
            switch result {
            case .success(let bytes?):
                if let relay = self.relay, !self.receivedBytes,
                   let relayed = HTTPRelayedResponse.recognise(bytes, limits: self.client.configuration.limits, filter: relay) {
                    self.relayed(relayed, on: connection)
                    return
                }
                var reader = self.reader.take() ?? self.makeReader()
                var parsed = Result { try reader.receive(bytes) }
                // Kept even when it failed: it knows whether response bytes arrived.
                self.reader = reader
                // Interim (1xx) responses come first: each is reported as it is found.
                while case .success(.interim(let head)?) = parsed {
                    guard self.reportInterim(head) else { return }
                    parsed = Result { try reader.nextHead() }
                    self.reader = reader
                }
                switch parsed {
                case .success(.final(let head)?):
                    connection.channel.clearDeadline()
                    let started = HTTPClientExchange.Started(head: head, reader: reader, upload: nil)
                    self.finish(.started(self.client.streamingResponse(started, on: connection, key: self.key, host: self.authority)))
                case .success(.interim?):
                    return // not left by the loop above
                case .success(nil):
                    self.readMore()
                case .failure(let error):
                    self.fail(HTTPClientError.describing(error, host: self.authority))
                }
            case .success(nil):
                var reader = self.reader.take() ?? self.makeReader()
                let error = reader.endBeforeHead(host: self.authority)
                self.reader = reader
                self.fail(error)
            case .failure(let error):
                self.fail(error)
            }
        }
    }

    /// Passes an interim response to the completion (when asked to). False when the exchange
    /// ended meanwhile (the client of the server request it was made for left, inside the
    /// completion): nothing more is read.
    private func reportInterim(_ head: HTTPResponseHead) -> Bool {
        if reportsInterim { completion?(.interim(HTTPInterimResponse(head))) }
        return completion != nil && connection != nil
    }

    /// The response came whole: the connection goes back to the pool with this exchange parked
    /// beside it (emptied first: a request on the connection may take it back inside the
    /// completion), then the completion runs.
    private func relayed(_ relayed: HTTPRelayedResponse, on connection: TCPConnection) {
        connection.channel.clearDeadline()
        let completion = completion.take()
        self.connection = nil
        relay = nil
        reader = nil
        client.pool.release(key, connection: connection, now: connection.channel.loop.turnNanoseconds, spare: completion == nil ? nil : self)
        completion?(.relayed(relayed))
    }

    /// The client of the server request this exchange was made for left (see
    /// ``HTTPClientDepartureObserver``): the connection is closed, never pooled (the response,
    /// if the upstream ever sends it, would be unread), and the completion told.
    func clientDeparted(token: UInt64) {
        // The completion is taken first: closing fails the pending read or write, whose
        // callbacks then find the exchange ended.
        guard token == generation, let connection, let completion = completion.take() else { return }
        self.connection = nil
        connection.close()
        client.pool.release(key, connection: nil)
        completion(.abandoned)
    }

    private func fail(_ error: any Error) {
        // Already ended (abandoned, then told of the closed connection's failure): nothing more.
        guard completion != nil else { return }
        connection?.close()
        client.pool.release(key, connection: nil)
        let host = authority
        if deadline != 0, MonotonicClock.nowNanoseconds() >= deadline {
            finish(.failed(HTTPClientError(.timeout, host: host, detail: "no complete response within \(GoDuration.format(limit))"), retryable: false))
            return
        }
        let retryable = !receivedBytes && (HTTPClientRequest.isIdempotent(method) || !written)
        finish(.failed(HTTPClientError.describing(error, host: host), retryable: retryable))
    }

    private func finish(_ outcome: HTTPClient.InlineOutcome) {
        guard let completion = completion.take() else { return }
        connection = nil
        completion(outcome)
    }
}
