import Synchronization

// MARK: - One server connection: parsing, dispatch, responses

/// A complete request handed to the connection's handler task.
struct DispatchedRequest: Sendable {
    let request: HTTPRequest
    let head: HTTPRequestHead
}

/// A request whose head has arrived and whose body is being collected.
struct PendingRequest {
    var head: HTTPRequestHead
    var body: [UInt8] = []
    var expectsContinue = false
    var sentContinue = false
}

extension HTTPServerConnection {
    /// Parses buffered bytes while no request is in flight, so pipelined requests are answered
    /// strictly in order; the next one is parsed only after the previous response is queued.
    func processInput() {
        while phase == .open && !inFlight && buffer.count > 0 {
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
            var ended = false
            for event in events {
                switch event {
                case .head(let head):
                    headerTimerRunning = false
                    guard accept(head) else { return }
                case .body(let bytes):
                    pending?.body.append(contentsOf: bytes)
                case .end(let trailers):
                    ended = true
                    if let request = pending {
                        pending = nil
                        dispatch(request, trailers: trailers)
                    }
                }
            }
            if !ended {
                sendContinueIfExpected()
                break
            }
        }
        guard phase == .open, !inFlight else {
            if inFlight && buffer.count >= shared.configuration.maxPipelineBuffer { pauseReading() }
            return
        }
        if parser.isAtMessageBoundary {
            if buffer.count > 0 {
                if !headerTimerRunning {
                    headerTimerRunning = true
                    setDeadline(after: shared.configuration.headerReadTimeout, .requestTimeout)
                }
            } else if !closeAfterResponse {
                setDeadline(after: shared.configuration.idleTimeout, .closeSilently)
            }
        } else {
            setDeadline(after: shared.configuration.idleTimeout, .requestTimeout)
        }
    }

    /// Checks a new head's expectations. Returns false when the request was refused.
    private func accept(_ head: HTTPRequestHead) -> Bool {
        var request = PendingRequest(head: head)
        if let expectation = head.headers["Expect"] {
            guard expectation.lowercased() == "100-continue" else {
                failRequest(HTTPParseError(status: 417, reason: "unsupported expectation '\(expectation)'; only 100-continue is supported"))
                return false
            }
            // The parser has already refused bodies over the limit (413), so a declared body here
            // is one we will read: tell the client to send it.
            request.expectsContinue = head.version.minor >= 1 && head.hasBody
        }
        if let length = head.contentLength { request.body.reserveCapacity(length) }
        pending = request
        return true
    }

    private func sendContinueIfExpected() {
        guard var request = pending, request.expectsContinue, !request.sentContinue else { return }
        request.sentContinue = true
        pending = request
        send(HTTPResponseEncoder.continueResponse)
    }

    /// Answers a request we cannot read with its status and reason, then closes.
    func failRequest(_ error: HTTPParseError) {
        guard phase == .open else { return }
        pending = nil
        closeAfterResponse = true
        inFlight = false
        pauseReading()
        clearDeadline()
        send(HTTPResponseEncoder.error(status: error.status, reason: error.reason))
    }

    // MARK: Dispatch

    private func dispatch(_ pending: PendingRequest, trailers: HTTPHeaders) {
        let head = pending.head
        let request = HTTPRequest(
            method: head.method, target: head.target, version: head.version, headers: head.headers,
            body: pending.body, trailers: trailers, remoteAddress: remoteAddress)
        inFlight = true
        clearDeadline()
        let item = DispatchedRequest(request: request, head: head)
        if let waiter = handlerWaiter {
            handlerWaiter = nil
            waiter.resume(returning: item)
        } else {
            queuedRequest = item
            if !handlerTaskRunning {
                handlerTaskRunning = true
                Task(executorPreference: loop) { await self.runHandlers() }
            }
        }
    }

    /// One long-lived task per connection runs the handler for each request in turn, so a request
    /// costs a continuation resume on the loop rather than a new task. The task prefers the loop
    /// as its executor: it starts and resumes on the loop thread, where connection state lives.
    private func runHandlers() async {
        let handler = shared.handler
        while let item = await nextRequest() {
            let response = await handler(item.request)
            await returnToLoop()
            respond(response, to: item.head)
        }
    }

    /// The next request to handle, waiting for one; nil once the connection has closed.
    private func nextRequest() async -> DispatchedRequest? {
        await returnToLoop()
        if let item = queuedRequest {
            queuedRequest = nil
            return item
        }
        if phase == .closed {
            handlerTaskRunning = false
            return nil
        }
        return await withCheckedContinuation { handlerWaiter = $0 }
    }

    /// Normally a no-op: the handler task resumes on its preferred executor, the loop. Guards the
    /// invariant that connection state is only touched on the loop thread.
    private func returnToLoop() async {
        if loop.inLoop { return }
        let loop = self.loop
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute { continuation.resume() }
        }
    }

    // MARK: Responding

    private func wantsKeepAlive(_ head: HTTPRequestHead, _ response: HTTPResponse) -> Bool {
        if closeAfterResponse || shared.shuttingDown.load(ordering: .relaxed) { return false }
        if response.headers.hasToken("close", in: "Connection") { return false }
        if head.version.minor == 0 { return head.headers.hasToken("keep-alive", in: "Connection") }
        return !head.headers.hasToken("close", in: "Connection")
    }

    func respond(_ response: HTTPResponse, to head: HTTPRequestHead) {
        guard phase == .open else { return }
        var keepAlive = wantsKeepAlive(head, response)
        let status = response.status
        let bodyless = head.method == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304
        switch response.body.storage {
        case .bytes(let bytes):
            let length: Int? = (status == 204 || (100..<200).contains(status)) ? nil : bytes.count
            var out = HTTPResponseEncoder.head(response, version: head.version, contentLength: length, chunked: false, keepAlive: keepAlive)
            if !bodyless { out.append(contentsOf: bytes) }
            send(out)
            finishResponse(keepAlive: keepAlive)
        case .stream(let produce):
            if bodyless {
                send(HTTPResponseEncoder.head(response, version: head.version, contentLength: nil, chunked: false, keepAlive: keepAlive))
                finishResponse(keepAlive: keepAlive)
                return
            }
            let chunked = head.version.minor >= 1
            if !chunked { keepAlive = false }
            send(HTTPResponseEncoder.head(response, version: head.version, contentLength: nil, chunked: chunked, keepAlive: keepAlive))
            stream(produce, chunked: chunked, keepAlive: keepAlive)
        }
    }

    private func stream(_ produce: @escaping @Sendable (HTTPBodyWriter) async throws -> Void, chunked: Bool, keepAlive: Bool) {
        let loop = self.loop
        let writer = HTTPBodyWriter { bytes in
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                loop.execute {
                    self.send(chunked ? HTTPResponseEncoder.chunk(bytes) : bytes)
                    self.waitForDrain(continuation)
                }
            }
        }
        Task(executorPreference: loop) {
            do {
                try await produce(writer)
                loop.execute {
                    if chunked { self.send(HTTPResponseEncoder.lastChunk) }
                    self.finishResponse(keepAlive: keepAlive)
                }
            } catch {
                // A chunked body cannot report failure in-band: closing without the last chunk
                // tells the client the body is incomplete.
                loop.execute { self.closeNow() }
            }
        }
    }

    /// The response is queued: close if it was the last one, otherwise go on with pipelined input.
    private func finishResponse(keepAlive: Bool) {
        inFlight = false
        guard phase == .open else { return }
        if !keepAlive {
            closeAfterResponse = true
            if pendingOutboundBytes == 0 { beginLinger() }
            return
        }
        resumeReading()
        processInput()
        closeIfPeerIsDone()
    }
}
