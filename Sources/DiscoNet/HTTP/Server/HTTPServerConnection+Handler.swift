import Synchronization

// MARK: - One server connection: the handler task

extension HTTPServerConnection {
    /// Tells the connection's handler task that a request is queued, starting the task on
    /// first use. The request stays in `queued`; only a wake-up crosses the continuation.
    /// The task belongs to the server (``HTTPServerShared/handlerTasks``), whose shutdown cancels
    /// and awaits it; once the server has closed that set, the connection closes instead.
    func wakeHandler() {
        if let waiter = handlerWaiter {
            handlerWaiter = nil
            waiter.resume(returning: true)
        } else if !handlerTaskRunning {
            handlerTaskRunning = true
            handlerTask = shared.handlerTasks.start(executorPreference: loop, { await self.runHandlers() })
            guard handlerTask != nil else {
                // The server is stopping: close on the loop's next turn, not inside the parse
                // that queued the request.
                handlerTaskRunning = false
                loop.execute { self.closeNow() }
                return
            }
        }
    }

    /// One long-lived task per connection runs the responder for each request in turn (and a
    /// streamed body, or a hand-off, after it), so a request costs a continuation resume on the
    /// loop rather than a new task. The task prefers the loop as its executor: it starts and
    /// resumes on the loop thread, where connection state lives. It ends when the connection
    /// closes or is handed off.
    private func runHandlers() async {
        let responder = shared.responder
        let wholeBodyHandler = responder.wholeBodyHandler?.handler
        while true {
            // Kept flat (no helper async calls) on purpose: each async call costs an executor
            // check, and this loop runs once per request.
            if !loop.inLoop { await returnToLoop() }
            if queued.isEmpty {
                if phase == .closed {
                    handlerTaskRunning = false
                    return
                }
                guard await withCheckedContinuation({ handlerWaiter = $0 }) else { return }
            }
            let id = queued.id
            let followUp: ResponseFollowUp
            if let started = queued.followUp.take() {
                // Answered inline (see `answerInline`); only the body or hand-off is left.
                followUp = started
            } else {
                let response: HTTPResponse
                if let wholeBodyHandler, let request = queued.whole.take() {
                    // The common case, as cheap as a plain handler call: no middleware, no body.
                    response = await wholeBodyHandler(request)
                } else if let request = queued.streaming.take() {
                    response = await Self.answer(request, with: responder, errorFormat: shared.configuration.errorFormat)
                } else if let produce = queued.deferred.take() {
                    // An inline handler's work that had to wait (see `HTTPInlineReply.respond(later:)`).
                    response = await produce()
                } else {
                    continue
                }
                if !loop.inLoop { await returnToLoop() }
                followUp = startResponse(response, to: id)
            }
            switch followUp {
            case .finished:
                continue
            case .stream(let produce, let chunked, let keepAlive, let length):
                await runStream(produce, exchange: id, chunked: chunked, keepAlive: keepAlive, length: length)
            case .handOff(let takeOver):
                await runHandOff(takeOver)
                return
            }
        }
    }

    /// Calls the responder chain; a thrown error becomes a response (see ``HTTPResponder``).
    private static func answer(_ request: HTTPStreamingRequest, with responder: HTTPResponder,
                               errorFormat: HTTPErrorFormat) async -> HTTPResponse {
        func refusal(_ reason: String, status: Int) -> HTTPResponse {
            let (contentType, bytes) = errorFormat.body(reason)
            return HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .bytes(bytes))
        }
        do {
            return try await responder.respond(to: request)
        } catch let error as HTTPParseError {
            return refusal(error.reason, status: error.status)
        } catch {
            return refusal("internal error: \(error)", status: 500)
        }
    }

    /// Runs a streamed body's producer. With a `length` (announced as `Content-Length`), a
    /// producer that writes more fails at that write, and one that returns short fails the
    /// response: either way the connection is reset rather than left out of step.
    private func runStream(_ produce: @Sendable (HTTPBodyWriter) async throws -> Void, exchange id: UInt64,
                           chunked: Bool, keepAlive: Bool, length: Int?) async {
        let written = StreamedByteCount()
        let peer = remoteAddress?.description ?? "client"
        let writer = HTTPBodyWriter { bytes in
            if let length, written.add(bytes.count) > length {
                throw NetworkError(.ioFailed, peer: peer, detail: "the response body is longer than its Content-Length \(length)")
            }
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if self.loop.inLoop {
                    self.writeBodyPiece(bytes, exchange: id, chunked: chunked, continuation)
                } else {
                    self.loop.execute { self.writeBodyPiece(bytes, exchange: id, chunked: chunked, continuation) }
                }
            }
        }
        do {
            try await produce(writer)
            await returnToLoop()
            if let length, written.total != length {
                abortStream(exchange: id, chunked: false)
                return
            }
            endStream(exchange: id, chunked: chunked, keepAlive: keepAlive)
        } catch {
            await returnToLoop()
            abortStream(exchange: id, chunked: chunked)
        }
    }

    private func runHandOff(_ takeOver: @Sendable (HTTPUpgradedConnection) async -> Void) async {
        await returnToLoop()
        let upgraded = await withCheckedContinuation { (continuation: CheckedContinuation<HTTPUpgradedConnection?, Never>) in
            completeHandOff(continuation)
        }
        guard let upgraded else { return }
        await takeOver(upgraded)
        upgraded.connection.close()
        _ = shared.handedOff.withLock { $0.removeValue(forKey: ObjectIdentifier(upgraded.connection)) }
    }

    /// Normally a no-op: the handler task resumes on its preferred executor, the loop. Guards the
    /// invariant that connection state is only touched on the loop thread.
    func returnToLoop() async {
        if loop.inLoop { return }
        let loop = self.loop
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute { continuation.resume() }
        }
    }
}

/// Bytes a streamed body's producer has written so far (checked against its `Content-Length`).
final class StreamedByteCount: Sendable {
    private let count = Atomic<Int>(0)

    /// Adds `bytes` and returns the new total.
    func add(_ bytes: Int) -> Int { count.add(bytes, ordering: .relaxed).newValue }

    var total: Int { count.load(ordering: .relaxed) }
}
