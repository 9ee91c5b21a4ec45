import Synchronization

// MARK: - One server connection: responses and hand-off

extension HTTPServerConnection {
    /// What the handler task does after a response head has been written.
    enum ResponseFollowUp {
        /// Nothing: the response is complete (or was dropped).
        case finished
        /// Run the body producer, then end the response.
        /// `length`: the exact length the body was announced with (nil: chunked or close-delimited).
        case stream(@Sendable (HTTPBodyWriter) async throws -> Void, chunked: Bool, keepAlive: Bool, length: Int?)
        /// Wait until the head is sent, then give the connection to `takeOver`.
        case handOff(@Sendable (HTTPUpgradedConnection) async -> Void)
    }

    func wantsKeepAlive(_ request: HTTPRequestSummary, _ response: HTTPResponse) -> Bool {
        if response.headers.hasToken("close", in: "Connection") { return false }
        return wantsKeepAlive(request)
    }

    /// Whether the connection stays open after answering `request` (by its version and
    /// `Connection`, and unless the server is closing it), for a response that does not ask to close.
    func wantsKeepAlive(_ request: HTTPRequestSummary) -> Bool {
        if closeAfterResponse || shared.shuttingDown.load(ordering: .relaxed) { return false }
        if request.version.minor == 0 { return request.asksToKeepAlive }
        return !request.asksToClose
    }

    /// Writes the head (and a fixed body) of the handler's response to exchange `id`. A response
    /// to an exchange that has already ended (a failed request) is dropped.
    func startResponse(_ response: HTTPResponse, to id: UInt64) -> ResponseFollowUp {
        guard phase == .open, let exchange, exchange.id == id, exchange.response == .notStarted else { return .finished }
        let head = exchange.request
        exchange.response = .streaming
        var keepAlive = wantsKeepAlive(head, response)
        let status = response.status
        let bodyless = head.method == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304
        // A HEAD or 304 answer has no body but tells the length the body would have: one the
        // handler states (a proxy relaying its upstream's answer) is kept.
        let statedLength = bodyless && status >= 200 && status != 204 ? (try? HTTPSyntax.contentLength(response.headers)) ?? nil : nil
        switch response.body.storage {
        case .handOff(let takeOver):
            return beginHandOff(response, head: head, takeOver)
        case .bytes(let bytes):
            // The handler is done with the request body: whatever is left of it is dropped.
            if !discardUnreadBody() { keepAlive = false }
            let length: Int? = (status == 204 || (100..<200).contains(status)) ? nil
                : bytes.isEmpty ? statedLength ?? 0 : bytes.count
            send { out in
                HTTPResponseEncoder.appendHead(response, version: head.version, contentLength: length, chunked: false,
                                               keepAlive: keepAlive, to: &out)
                if !bodyless { out.append(contentsOf: bytes) }
            }
            finishResponse(keepAlive: keepAlive)
            return .finished
        case .stream(let produce, let length):
            if bodyless {
                if !discardUnreadBody() { keepAlive = false }
                let announced = statedLength ?? (status >= 200 && status != 204 ? length : nil)
                send(HTTPResponseEncoder.head(response, version: head.version, contentLength: announced, chunked: false, keepAlive: keepAlive))
                finishResponse(keepAlive: keepAlive)
                return .finished
            }
            let chunked = length == nil && head.version.minor >= 1
            if !chunked && length == nil { keepAlive = false }
            // A body the client waits to be invited to will not come now that a final answer
            // has begun (`100 Continue` can no longer go out): the connection closes after
            // this response, and its head says so.
            if exchange.body.expectsContinue && !exchange.body.sentContinue && !exchange.body.complete { keepAlive = false }
            send(HTTPResponseEncoder.head(response, version: head.version, contentLength: length, chunked: chunked, keepAlive: keepAlive))
            return .stream(produce, chunked: chunked, keepAlive: keepAlive, length: length)
        }
    }

    // MARK: Streamed bodies

    /// Sends one piece of exchange `id`'s streamed body, resuming once the queue is below the
    /// high-water mark (loop thread only).
    func writeBodyPiece(_ bytes: [UInt8], exchange id: UInt64, chunked: Bool, _ continuation: CheckedContinuation<Void, any Error>) {
        guard phase == .open, let exchange, exchange.id == id, exchange.response == .streaming else {
            continuation.resume(throwing: NetworkError(.connectionClosed, peer: remoteAddress?.description ?? "client",
                                                       detail: "the response can no longer be written"))
            return
        }
        send(chunked ? HTTPResponseEncoder.chunk(bytes) : bytes)
        waitForDrain(continuation)
    }

    /// The producer of exchange `id`'s body returned: end the body and the response.
    func endStream(exchange id: UInt64, chunked: Bool, keepAlive: Bool) {
        guard phase == .open, let exchange, exchange.id == id else { return }
        if chunked { send(HTTPResponseEncoder.lastChunk) }
        finishResponse(keepAlive: keepAlive)
    }

    /// The producer of exchange `id`'s body failed. A chunked body cannot report failure
    /// in-band: closing without the last chunk tells the client the body is incomplete. A body
    /// delimited by the connection's end (HTTP/1.0) would look complete after an orderly close,
    /// and one with a `Content-Length` it did not reach is cut short: the connection is reset
    /// instead.
    func abortStream(exchange id: UInt64, chunked: Bool) {
        guard let exchange, exchange.id == id else { return }
        if !chunked, phase == .open { transport.abort() }
        closeNow()
    }

    // MARK: Finishing

    /// The handler no longer needs the request body: drops what is queued and parses away what
    /// is already buffered. True when the body is complete, so the connection is still in step
    /// for a next request; false when the rest of it has not arrived (the connection then
    /// closes after the response).
    func discardUnreadBody() -> Bool {
        guard let exchange else { return false }
        // The usual request: its body (if any) was read to the end and nobody waits for more.
        if exchange.body.complete && !exchange.body.hasQueuedPieces && exchange.body.waiter == nil { return true }
        exchange.body.dropQueued()
        let reader = exchange.body.takeWaiter()
        if exchange.body.complete {
            reader?.resume(throwing: HTTPRequestBodyGone())
            return true
        }
        exchange.body.discarding = true
        reader?.resume(throwing: HTTPRequestBodyGone())
        // A client still waiting for `100 Continue` may or may not send the body now.
        if exchange.body.expectsContinue && !exchange.body.sentContinue { return false }
        processInput()
        return self.exchange?.body.complete == true
    }

    /// The response is queued: close if it was the last one, otherwise go on with pipelined input
    /// (from inside a parse, as an inline answer is, `processInput` only notes that it is wanted).
    func finishResponse(keepAlive: Bool) {
        var keepAlive = keepAlive
        if let exchange, !exchange.body.complete || exchange.body.hasQueuedPieces {
            if !discardUnreadBody() { keepAlive = false }
        }
        spareExchange = exchange
        exchange = nil
        // Nothing read ahead: a later request is not pipelined behind this one.
        if !bufferHoldsARequest { clientPipelines = false }
        guard phase == .open else { return }
        if !keepAlive {
            // Requests pipelined behind the last one are not answered.
            acceptsRequests = false
            closeAfterResponse = true
            if pendingOutboundBytes == 0 { beginLinger() }
            return
        }
        resumeReading()
        processInput()
        closeIfPeerIsDone()
    }

    // MARK: Hand-off

    private func beginHandOff(
        _ response: HTTPResponse, head: HTTPRequestSummary, _ takeOver: @escaping @Sendable (HTTPUpgradedConnection) async -> Void
    ) -> ResponseFollowUp {
        let status = response.status
        guard status == 101 || (head.method == "CONNECT" && (200..<300).contains(status)) else {
            refuseHandOff("a connection hand-off needs status 101 or a 2xx answer to CONNECT; the handler answered \(status) to \(head.method)")
            return .finished
        }
        guard let exchange, exchange.body.complete, !exchange.body.hasQueuedPieces else {
            refuseHandOff("cannot switch protocols before the request body has been read completely")
            return .finished
        }
        exchange.handingOff = true
        send(HTTPResponseEncoder.handOffHead(response, version: head.version))
        return .handOff(takeOver)
    }

    private func refuseHandOff(_ reason: String) {
        exchange = nil
        acceptsRequests = false
        closeAfterResponse = true
        pauseReading()
        send(HTTPResponseEncoder.error(status: 500, reason: reason, format: shared.configuration.errorFormat))
    }

    /// Waits until the hand-off head has been sent, then detaches the transport from HTTP and
    /// wraps it as a connection for the new protocol. Nil when the connection closed first.
    func completeHandOff(_ continuation: CheckedContinuation<HTTPUpgradedConnection?, Never>) {
        guard phase == .open else {
            continuation.resume(returning: nil)
            return
        }
        if pendingOutboundBytes == 0 {
            continuation.resume(returning: detach())
        } else {
            handOffWaiter = { [self] in continuation.resume(returning: detach()) }
        }
    }

    private func detach() -> HTTPUpgradedConnection? {
        guard phase == .open, exchange != nil else { return nil }
        phase = .handedOff
        exchange = nil
        releaseTimer()
        let leftover = Array(buffer.readable)
        buffer.removeAll()
        let peer = remoteAddress ?? SocketAddress(bytes: [0, 0, 0, 0], port: 0, scopeID: 0)
        let connection = TCPConnection.adopting(transport, remoteAddress: peer)
        // Counted as handed off before it leaves the registry: the connection cap never
        // misses it in between.
        shared.handedOff.withLock { $0[ObjectIdentifier(connection)] = connection }
        shared.remove(self)
        return HTTPUpgradedConnection(connection: connection, initialBytes: leftover)
    }
}
