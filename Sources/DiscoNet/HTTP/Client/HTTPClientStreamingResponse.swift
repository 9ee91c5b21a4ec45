import Synchronization

// MARK: - Responses whose body is read as a stream

/// A response from ``HTTPClient/execute(_:timeout:)``: the head at once, the body read on demand.
///
/// The connection goes back to the pool only once the body has been read to its end (and a
/// streamed request body fully sent). A body abandoned half-way (the response dropped, or
/// ``HTTPClientResponseBody/close()``) closes the connection instead, so the pool never hands
/// out a connection with unread bytes.
public struct HTTPClientStreamingResponse: Sendable {
    public var status: Int
    public var reason: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The body, read once by one task.
    public let body: HTTPClientResponseBody

    /// True for 301, 302, 303, 307 and 308 responses carrying a `Location`.
    public var isRedirect: Bool {
        [301, 302, 303, 307, 308].contains(status) && headers["Location"] != nil
    }
}

/// The body of an ``HTTPClientStreamingResponse``: pieces (never empty) in order. Reading it
/// slowly reads the socket slowly. Throws ``HTTPClientError`` for a malformed or cut-short body.
public struct HTTPClientResponseBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let stream: HTTPClientResponseStream

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: stream) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: HTTPClientResponseStream

        public mutating func next() async throws -> [UInt8]? { try await stream.next() }
    }

    /// Reads the whole body; more than `limit` bytes is ``HTTPClientError/Code-swift.struct/bodyTooLarge``
    /// (and the connection is closed).
    public func collect(upTo limit: Int) async throws -> [UInt8] {
        var whole: [UInt8] = []
        for try await piece in self {
            guard piece.count <= limit - whole.count else {
                stream.abandon()
                throw HTTPClientError(.bodyTooLarge, host: stream.host, detail: "response body larger than \(limit) bytes")
            }
            if whole.isEmpty { whole = piece } else { whole.append(contentsOf: piece) }
        }
        return whole
    }

    /// The whole body, at once, when it arrived with the response head (a small response) and
    /// is at most `limit` bytes: the exchange is then finished (the connection back in the pool)
    /// without a read or a wait. Nil when it has not all arrived (or is larger): read it as a
    /// stream then; nothing of it has been taken.
    public func collectIfArrived(upTo limit: Int) -> [UInt8]? { stream.takeIfArrived(upTo: limit) }

    /// Trailer fields of a chunked body; empty until the body has been read to its end.
    public var trailers: HTTPHeaders { stream.trailers }

    /// Stops reading: the connection is closed rather than reused. Safe after the end (no-op).
    public func close() { stream.abandon() }
}

// MARK: - The connection behind a streamed response

/// Owns the connection from the response head until the body's end (then releases it to the
/// pool) or until it is abandoned (then closes it). Also owns the task sending a streamed
/// request body, which it cancels if the exchange ends early.
final class HTTPClientResponseStream: Sendable {
    private enum Phase {
        /// The body is being read; the reader is here between reads, nil during one.
        case reading(HTTPClientResponseReader?)
        case finished(HTTPHeaders)
        case failed(any Error)
    }

    private struct State {
        var phase: Phase
    }

    let host: String
    private let connection: TCPConnection
    private let keepAlive: Bool
    private let upload: HTTPClientUpload?
    private let release: @Sendable (TCPConnection?) -> Void
    private let state: Mutex<State>

    init(host: String, connection: TCPConnection, reader: HTTPClientResponseReader, keepAlive: Bool,
         upload: HTTPClientUpload?, release: @escaping @Sendable (TCPConnection?) -> Void) {
        self.host = host
        self.connection = connection
        self.keepAlive = keepAlive
        self.upload = upload
        self.release = release
        state = Mutex(State(phase: .reading(reader)))
    }

    deinit { abandon() }

    /// Finishes at once when the response has no body (204, HEAD, `Content-Length: 0`), so the
    /// connection goes back to the pool even if nobody reads the empty body.
    func finishIfBodyless() {
        let trailers = state.withLock { state -> (HTTPHeaders, Bool)? in
            guard case .reading(var reader?) = state.phase, let trailers = reader.takeEndIfBodyless() else { return nil }
            state.phase = .reading(reader)
            return (trailers, reader.leftover.isEmpty)
        }
        if let (trailers, inStep) = trailers { finish(trailers: trailers, reusable: keepAlive && inStep) }
    }

    /// See ``HTTPClientResponseBody/collectIfArrived(upTo:)``.
    func takeIfArrived(upTo limit: Int) -> [UInt8]? {
        let taken = state.withLock { state -> (body: [UInt8], trailers: HTTPHeaders, inStep: Bool)? in
            guard case .reading(var reader?) = state.phase, let rest = reader.takeBufferedRest(upTo: limit) else { return nil }
            state.phase = .reading(reader)
            return (rest.body, rest.trailers, reader.leftover.isEmpty)
        }
        guard let taken else { return nil }
        finish(trailers: taken.trailers, reusable: keepAlive && taken.inStep)
        return taken.body
    }

    func next() async throws -> [UInt8]? {
        let taken = state.withLock { state -> Result<HTTPClientResponseReader, any Error>? in
            switch state.phase {
            case .finished: return nil
            case .failed(let error): return .failure(error)
            case .reading(nil):
                return .failure(HTTPClientError(.malformedResponse, host: host, detail: "the response body is being read by another task"))
            case .reading(let reader?):
                state.phase = .reading(nil)
                return .success(reader)
            }
        }
        guard let taken else { return nil }
        var reader = try taken.get()
        do {
            while let event = try await reader.next(from: connection, host: host) {
                switch event {
                case .head, .interim:
                    continue
                case .body(let piece):
                    if piece.isEmpty { continue }
                    state.withLock { $0.phase = .reading(reader) }
                    return piece
                case .end(let trailers):
                    finish(trailers: trailers, reusable: keepAlive && reader.leftover.isEmpty)
                    return nil
                }
            }
            finish(trailers: HTTPHeaders(), reusable: false)
            return nil
        } catch {
            let failure = upload?.failure ?? HTTPClientError.describing(error, host: host)
            fail(failure)
            throw failure
        }
    }

    var trailers: HTTPHeaders {
        state.withLock { state in
            if case .finished(let trailers) = state.phase { return trailers }
            return HTTPHeaders()
        }
    }

    /// The body ended: the connection goes back to the pool when it is in step (keep-alive, no
    /// stray bytes, request body completely sent), otherwise it is closed.
    private func finish(trailers: HTTPHeaders, reusable: Bool) {
        let first = state.withLock { state -> Bool in
            guard case .reading = state.phase else { return false }
            state.phase = .finished(trailers)
            return true
        }
        guard first else { return }
        let sent = upload?.hasFinishedSending ?? true
        if !sent { upload?.cancel() }
        if reusable && sent {
            release(connection)
        } else {
            connection.close()
            release(nil)
        }
    }

    private func fail(_ error: any Error) {
        let first = state.withLock { state -> Bool in
            guard case .reading = state.phase else { return false }
            state.phase = .failed(error)
            return true
        }
        guard first else { return }
        upload?.cancel()
        connection.close()
        release(nil)
    }

    /// Ends the exchange early: the connection is closed and its pool slot freed.
    func abandon() {
        fail(HTTPClientError(.connectionClosed, host: host, detail: "the response body was abandoned before its end"))
    }
}
