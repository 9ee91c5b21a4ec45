import Synchronization

// MARK: - One server connection: the handler task

extension HTTPServerConnection {
    /// Hands a request whose head has arrived to the connection's handler task, starting the
    /// task on first use.
    func dispatch(_ item: HTTPDispatchedRequest) {
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

    /// One long-lived task per connection runs the responder for each request in turn (and a
    /// streamed body, or a hand-off, after it), so a request costs a continuation resume on the
    /// loop rather than a new task. The task prefers the loop as its executor: it starts and
    /// resumes on the loop thread, where connection state lives. It ends when the connection
    /// closes or is handed off.
    private func runHandlers() async {
        let responder = shared.responder
        while let item = await nextRequest() {
            let response = await Self.answer(item.request, with: responder)
            await returnToLoop()
            switch startResponse(response, to: item.id) {
            case .finished:
                continue
            case .stream(let produce, let chunked, let keepAlive):
                await runStream(produce, exchange: item.id, chunked: chunked, keepAlive: keepAlive)
            case .handOff(let takeOver):
                await runHandOff(takeOver)
                return
            }
        }
    }

    /// Calls the responder chain; a thrown error becomes a response (see ``HTTPResponder``).
    private static func answer(_ request: HTTPStreamingRequest, with responder: HTTPResponder) async -> HTTPResponse {
        do {
            return try await responder.respond(to: request)
        } catch let error as HTTPParseError {
            return .text(error.reason + "\n", status: error.status)
        } catch {
            return .text("internal error: \(error)\n", status: 500)
        }
    }

    private func runStream(_ produce: @Sendable (HTTPBodyWriter) async throws -> Void, exchange id: UInt64,
                           chunked: Bool, keepAlive: Bool) async {
        let writer = HTTPBodyWriter { bytes in
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
            endStream(exchange: id, chunked: chunked, keepAlive: keepAlive)
        } catch {
            await returnToLoop()
            abortStream(exchange: id)
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

    /// The next request to handle, waiting for one; nil once the connection has closed.
    private func nextRequest() async -> HTTPDispatchedRequest? {
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
    func returnToLoop() async {
        if loop.inLoop { return }
        let loop = self.loop
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute { continuation.resume() }
        }
    }
}
