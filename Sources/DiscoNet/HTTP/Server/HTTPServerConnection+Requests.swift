// MARK: - One server connection: parsing, dispatch, request bodies

extension HTTPServerConnection {
    /// Parses buffered bytes. A request goes to the handler as soon as its head is parsed; its
    /// body is then parsed into a bounded queue as the handler takes it. Pipelined requests are
    /// answered strictly in order: the next head is parsed only after the previous response is
    /// finished.
    func processInput() {
        // An inline answer finishes its response (and asks for the next request) from inside
        // this parse: that call only notes it, and the loop below parses again, so pipelined
        // requests never nest one call per request.
        guard !processingInput else {
            inputPending = true
            return
        }
        processingInput = true
        repeat {
            inputPending = false
            parseBuffered()
        } while inputPending && phase == .open
        processingInput = false
        closeIfPeerIsDone()
    }

    private func parseBuffered() {
        // A request begun in this parse: bytes still buffered once it has been answered (at
        // once, inside the parse) came with it, before its answer: the client pipelines.
        var begunHere = false
        // The connection's first bytes (no request has begun yet) may be a TLS client's hello.
        if lastExchangeID == 0 && refusesTLSHandshake() { return }
        while phase == .open && buffer.count > 0 {
            if let exchange {
                if exchange.body.complete { break }
                if exchange.body.bufferedBytes >= shared.configuration.requestBodyBuffer { break }
            } else if !acceptsRequests {
                break
            } else if begunHere && !clientPipelines && bufferHoldsARequest {
                clientPipelines = true
                continue
            } else if pendingOutboundBytes > Self.drainHighWater {
                // The client is not reading its answers: the requests it pipelined wait until they
                // drain (`outboundDrained`), or each would queue a response without bound. Their
                // arrival is not late: no header deadline starts for them.
                pauseForOutput()
                return
            } else if parser.isAtHeadStart, let inline = shared.configuration.inlineHandler, inline.takesHeadViews,
                      offerHeadView(to: inline) {
                begunHere = true
                continue
            }
            events.removeAll(keepingCapacity: true)
            let consumed: Int
            do {
                consumed = try parser.parse(buffer.readable, into: &events)
            } catch {
                failRequest(error)
                return
            }
            buffer.consume(consumed)
            guard consumed > 0 || !events.isEmpty else { break }
            // Each event is moved out of the list, not copied (a head holds several strings
            // and its field list).
            while !events.isEmpty {
                switch events.removeFirst() {
                case .head(let head):
                    headerTimerRunning = false
                    begunHere = true
                    guard begin(head) else { return }
                case .body(let piece):
                    receiveBody(piece)
                case .end(let trailers):
                    endBody(trailers)
                }
            }
        }
        guard phase == .open else { return }
        updateReadingAndDeadline()
    }

    /// What to read next and how long to wait for it, after parsing.
    private func updateReadingAndDeadline() {
        if let exchange {
            if exchange.body.complete {
                // The handler runs: read ahead pipelined requests only up to a bound, and wait
                // for the handler as long as it takes. Bytes after the request: the client pipelines.
                if bufferHoldsARequest { clientPipelines = true }
                if buffer.count >= shared.configuration.maxPipelineBuffer { pauseReading() } else { resumeReading() }
                clearDeadline()
            } else if exchange.body.bufferedBytes >= shared.configuration.requestBodyBuffer {
                // The handler is behind: stop reading (back-pressure) and do not blame the client.
                pauseReading()
                clearDeadline()
            } else {
                resumeReading()
                setDeadline(after: shared.configuration.idleTimeout, .bodyTimeout)
            }
            return
        }
        if parser.isAtMessageBoundary {
            if buffer.count > 0 {
                if !headerTimerRunning {
                    headerTimerRunning = true
                    setDeadline(after: shared.configuration.headerReadTimeout, .headerTimeout)
                }
            } else if !closeAfterResponse {
                setDeadline(after: shared.configuration.idleTimeout, .closeSilently)
            }
        } else {
            setDeadline(after: shared.configuration.idleTimeout, .bodyTimeout)
        }
    }

    /// Checks a new head's expectations and hands the request to the handler. Returns false
    /// when the request was refused.
    private func begin(_ head: HTTPRequestHead) -> Bool {
        var expectsContinue = false
        if let expectation = head.headers["Expect"] {
            guard expectation.lowercased() == "100-continue" else {
                failRequest(HTTPParseError(status: 417, reason: "unsupported expectation '\(expectation)'; only 100-continue is supported"),
                            method: head.method)
                return false
            }
            // The parser has already refused bodies over the limit (413), so a declared body here
            // is one we will read once the handler asks for it.
            expectsContinue = head.version.minor >= 1 && head.hasBody
        }
        lastExchangeID &+= 1
        let id = lastExchangeID
        startExchange(id: id, request: HTTPRequestSummary(head), complete: !head.hasBody, expectsContinue: expectsContinue)
        if !head.hasBody {
            // One request value for whichever takes it, made from the head's own fields.
            let request = HTTPRequest(method: head.method, target: head.target, version: head.version, headers: head.headers,
                                      remoteAddress: remoteAddress)
            if let inline = shared.configuration.inlineHandler, inline.handle(request, reply: HTTPInlineReply(connection: self, id: id)) {
                return true
            }
            queued.id = id
            if let immediate = shared.responder.immediateHandler {
                return answerInline(request, exchange: id, with: immediate)
            }
            if shared.responder.wholeBodyHandler != nil {
                // The handler wants whole bodies and there is none to read: hand it over as it is.
                queued.whole = request
            } else {
                queued.streaming = HTTPStreamingRequest(method: request.method, target: request.target, version: request.version,
                                                        headers: request.headers, body: .empty, remoteAddress: remoteAddress)
                queued.streaming?.client = HTTPServerClientProbe(connection: self, exchangeID: id)
            }
            wakeHandler()
            return true
        }
        if expectsContinue && shared.configuration.continuePolicy == .immediately { sendContinueIfExpected() }
        queued.id = id
        let body = HTTPRequestBody(source: HTTPServerBodySource(connection: self, exchangeID: id), declaredLength: head.contentLength)
        queued.streaming = HTTPStreamingRequest(method: head.method, target: head.target, version: head.version,
                                                headers: head.headers, body: body, remoteAddress: remoteAddress)
        queued.streaming?.client = HTTPServerClientProbe(connection: self, exchangeID: id)
        wakeHandler()
        return true
    }

    private func receiveBody(_ piece: [UInt8]) {
        guard let exchange, !exchange.body.discarding, exchange.response != .finished else { return }
        if !exchange.body.hasQueuedPieces, let reader = exchange.body.takeWaiter() {
            reader.resume(returning: piece)
            return
        }
        exchange.body.enqueue(piece)
    }

    private func endBody(_ trailers: HTTPHeaders) {
        guard let exchange else { return }
        exchange.body.complete = true
        exchange.body.trailers = trailers
        let reader = exchange.body.hasQueuedPieces ? nil : exchange.body.takeWaiter()
        reader?.resume(returning: nil)
    }

    private func sendContinueIfExpected() {
        guard let exchange, exchange.body.expectsContinue, !exchange.body.sentContinue, !exchange.body.complete,
              exchange.response == .notStarted else { return }
        exchange.body.sentContinue = true
        send(HTTPResponseEncoder.continueResponse)
    }

    // MARK: The handler's side of a body

    enum BodyPoll {
        case piece([UInt8])
        case end
        case failed(any Error)
        case wait
    }

    /// Takes the next body piece for exchange `id` without waiting (loop thread only). The first
    /// read answers `Expect: 100-continue`; taking a piece may let parsing and reading resume.
    func pollBody(_ id: UInt64) -> BodyPoll {
        guard let exchange, exchange.id == id, exchange.response != .finished else {
            if let lastFailure, lastFailure.id == id { return .failed(lastFailure.error) }
            return .failed(HTTPRequestBodyGone())
        }
        if let failure = exchange.body.failure { return .failed(failure) }
        if let piece = exchange.body.dequeue() {
            if exchange.body.bufferedBytes < shared.configuration.requestBodyBuffer && !exchange.body.complete { processInput() }
            return .piece(piece)
        }
        if exchange.body.complete { return .end }
        sendContinueIfExpected()
        return .wait
    }

    /// Waits for the next body piece of exchange `id` (loop thread only).
    func awaitBody(_ id: UInt64, _ continuation: CheckedContinuation<[UInt8]?, any Error>) {
        switch pollBody(id) {
        case .piece(let piece): continuation.resume(returning: piece)
        case .end: continuation.resume(returning: nil)
        case .failed(let error): continuation.resume(throwing: error)
        case .wait:
            guard let exchange, exchange.id == id, exchange.body.waiter == nil else {
                continuation.resume(throwing: HTTPRequestBodyGone())
                return
            }
            exchange.body.waiter = continuation
            processInput()
        }
    }

    /// Ends a wait for a body piece whose task was cancelled.
    func cancelBodyWait(_ id: UInt64) {
        guard let exchange, exchange.id == id, let reader = exchange.body.takeWaiter() else { return }
        reader.resume(throwing: CancellationError())
    }

    func bodyTrailers(_ id: UInt64) -> HTTPHeaders {
        guard let exchange, exchange.id == id, exchange.body.complete else { return HTTPHeaders() }
        return exchange.body.trailers
    }

    // MARK: Failing

    /// Answers a request we cannot read with its status and reason, then closes. A handler
    /// already running for it sees the error on its body; its response is dropped (or, when it
    /// has begun, the connection closes). Without one, the answer is the server's alone:
    /// ``HTTPServerConfiguration/onRefusal`` is told (`method` when the head was read).
    func failRequest(_ error: HTTPParseError, method: String? = nil) {
        guard phase == .open else { return }
        acceptsRequests = false
        closeAfterResponse = true
        pauseReading()
        clearDeadline()
        if let exchange {
            if exchange.body.failure == nil { exchange.body.failure = error }
            lastFailure = (exchange.id, error)
            let reader = exchange.body.takeWaiter()
            let responseStarted = exchange.response != .notStarted
            exchange.response = .finished
            self.exchange = nil
            reader?.resume(throwing: error)
            if responseStarted {
                closeNow()
                return
            }
        } else {
            shared.configuration.onRefusal?(HTTPServerRefusal(status: error.status, method: method))
        }
        send(HTTPResponseEncoder.error(status: error.status, reason: error.reason, format: shared.configuration.errorFormat))
    }
}

// MARK: - A body read from the connection

/// The handler's handle on a request body: hops to the connection's loop (a no-op when the
/// handler already runs there) and takes pieces from the exchange's queue.
struct HTTPServerBodySource: HTTPBodySource {
    let connection: HTTPServerConnection
    let exchangeID: UInt64

    func next() async throws -> [UInt8]? {
        let connection = self.connection
        let id = exchangeID
        if connection.loop.inLoop {
            switch connection.pollBody(id) {
            case .piece(let piece): return piece
            case .end: return nil
            case .failed(let error): throw error
            case .wait: break
            }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if connection.loop.inLoop {
                    connection.awaitBody(id, continuation)
                } else {
                    connection.loop.execute { connection.awaitBody(id, continuation) }
                }
            }
        } onCancel: {
            connection.loop.execute { connection.cancelBodyWait(id) }
        }
    }

    func trailers() async -> HTTPHeaders {
        let connection = self.connection
        let id = exchangeID
        if connection.loop.inLoop { return connection.bodyTrailers(id) }
        return (try? await connection.loop.submit { connection.bodyTrailers(id) }) ?? HTTPHeaders()
    }
}

// MARK: - Whether the client is still there

extension HTTPServerConnection {
    /// Whether exchange `id`'s client is gone: the connection or the exchange has ended. A FIN
    /// that counts as leaving (`peerFinishedDuringExchange`) has closed the connection; one the
    /// server kept it open for is a half-close (the client pipelines, or the server does not
    /// abandon requests of closed clients), whose client waits for its answers. Loop thread only.
    func clientHasLeft(_ id: UInt64) -> Bool {
        guard phase == .open, let exchange, exchange.id == id else { return true }
        return false
    }

    /// Whether exchange `id` was abandoned because its client left: it has, and the server did
    /// not close the connection itself (at the end of a shutdown's grace period). Loop thread only.
    func clientAbandoned(_ id: UInt64) -> Bool {
        clientHasLeft(id) && !closedByServer
    }
}

/// The handle on whether an exchange's client is still there (``HTTPStreamingRequest/clientHasLeft()``,
/// ``HTTPInlineReply/clientHasLeft()``): asks the connection on its loop.
struct HTTPServerClientProbe: Sendable {
    let connection: HTTPServerConnection
    let exchangeID: UInt64

    func clientHasLeft() async -> Bool {
        await ask(ifLoopIsGone: true) { $0.clientHasLeft($1) }
    }

    /// See ``HTTPServerConnection/clientAbandoned(_:)``.
    func clientAbandoned() async -> Bool {
        await ask(ifLoopIsGone: false) { $0.clientAbandoned($1) }
    }

    /// `question` about the exchange, asked on the connection's loop; `ifLoopIsGone` when the
    /// loop no longer runs work.
    private func ask(ifLoopIsGone: Bool, _ question: @escaping @Sendable (HTTPServerConnection, UInt64) -> Bool) async -> Bool {
        let connection = self.connection
        let id = exchangeID
        if connection.loop.inLoop { return question(connection, id) }
        return (try? await connection.loop.submit { question(connection, id) }) ?? ifLoopIsGone
    }
}
