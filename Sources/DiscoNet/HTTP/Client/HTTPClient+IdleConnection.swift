import DiscoCore

// MARK: - The fast path: an idle pooled connection on the caller's loop

extension HTTPClient {
    /// How ``startOnIdleConnection(_:url:limit:loop:)`` ended.
    enum IdleConnectionOutcome {
        /// The response head arrived.
        case started(HTTPClientStreamingResponse)
        /// No idle connection to the origin on this loop, or a request that streams its body:
        /// take the general path.
        case notApplicable
        /// The pooled connection failed before the request can have reached the upstream (it
        /// was stale): take the general path, within what is left of the deadline.
        case retry(remaining: Duration)
    }

    /// Sends `request` on an idle pooled connection that lives on `loop` (the caller's loop),
    /// in the calling task: no task of its own, no wait for the pool. The deadline (`limit`, up
    /// to the response head) is the connection's own re-armed deadline, which closes it when
    /// passed; the failure is then the same timeout the general path reports. Only
    /// ``execute(_:timeout:)`` comes here: the body limit bounds each chunk.
    func startOnIdleConnection(
        _ request: HTTPClientRequest, url: HTTPURL, limit: Duration, loop: EventLoop
    ) async throws -> IdleConnectionOutcome {
        guard request.bodyStream == nil, loop.inLoop else { return .notApplicable }
        let key = url.origin
        guard let connection = pool.takeIdle(key, on: loop) else { return .notApplicable }
        let channel = connection.channel
        // A connection the peer has closed is not used. Checking costs a system call, so it is
        // left out for requests that may be repeated: a stale connection fails them before any
        // response byte, and they are retried on a fresh one.
        if channel.closed || (!request.isIdempotent && channel.peerHasClosed) {
            connection.close()
            pool.release(key, connection: nil)
            return .retry(remaining: limit)
        }
        let startedAt = MonotonicClock.nowNanoseconds()
        let deadline = startedAt &+ MonotonicClock.nanoseconds(limit)
        channel.setDeadline(at: deadline)
        let exchange = HTTPClientExchange(connection: connection, url: url, limits: configuration.limits, bodyLimitScope: .eachChunk)
        do {
            let started = try await exchange.start(request)
            if loop.inLoop { channel.clearDeadline() } else { loop.execute { channel.clearDeadline() } }
            return .started(streamingResponse(started, on: connection, key: key, host: url.authority))
        } catch let failure as HTTPClientExchange.Failure {
            connection.close()
            pool.release(key, connection: nil)
            let now = MonotonicClock.nowNanoseconds()
            if now >= deadline {
                throw HTTPClientError(.timeout, host: url.authority, detail: "no complete response within \(GoDuration.format(limit))")
            }
            let retryable = !failure.receivedResponseBytes && (request.isIdempotent || !failure.requestWritten)
            guard retryable && !Task.isCancelled else { throw failure.error }
            return .retry(remaining: .nanoseconds(Int64(deadline - now)))
        } catch {
            connection.close()
            pool.release(key, connection: nil)
            throw error
        }
    }
}
