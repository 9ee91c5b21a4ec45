// MARK: - Handlers

/// Handles one request with its whole body and returns its response (the classic handler; see
/// ``HTTPResponder/collecting(upTo:_:)``). Runs on the connection's event loop thread unless it
/// awaits something elsewhere; it must not block the thread (no blocking syscalls).
public typealias HTTPHandler = @Sendable (HTTPRequest) async -> HTTPResponse

/// Answers one request with its whole body at once, without suspending (see
/// ``HTTPResponder/immediate(upTo:_:)``). Runs on the connection's event loop thread, inside the
/// loop's turn that read the request: it must be quick and must not block.
public typealias HTTPImmediateHandler = @Sendable (HTTPRequest) -> HTTPResponse

/// Answers streamed requests: the end of a middleware chain, and what each middleware calls next.
///
/// A thrown ``HTTPParseError`` is answered with its status and reason (413 from
/// ``HTTPRequestBody/collect(upTo:)``, for example); any other error with 500.
public struct HTTPResponder: Sendable {
    private let body: @Sendable (HTTPStreamingRequest) async throws -> HTTPResponse
    /// Set for a bare ``collecting(upTo:_:)`` responder: the server calls the handler itself
    /// when the body is already whole, so the common small request costs no extra async frames.
    let wholeBodyHandler: (handler: HTTPHandler, limit: Int)?
    /// Set for a bare ``immediate(upTo:_:)`` responder: the server answers a request without a
    /// body inline, on the loop, as soon as its head is parsed.
    let immediateHandler: HTTPImmediateHandler?

    /// A responder that reads the body as it likes (streaming).
    public init(_ respond: @escaping @Sendable (HTTPStreamingRequest) async throws -> HTTPResponse) {
        body = respond
        wholeBodyHandler = nil
        immediateHandler = nil
    }

    private init(_ respond: @escaping @Sendable (HTTPStreamingRequest) async throws -> HTTPResponse,
                 wholeBodyHandler: (handler: HTTPHandler, limit: Int), immediateHandler: HTTPImmediateHandler? = nil) {
        body = respond
        self.wholeBodyHandler = wholeBodyHandler
        self.immediateHandler = immediateHandler
    }

    /// A responder for a whole-body handler: collects at most `limit` body bytes first and
    /// answers 413 (naming the limit) for a larger body, without calling `handler`.
    public static func collecting(upTo limit: Int, _ handler: @escaping HTTPHandler) -> HTTPResponder {
        HTTPResponder({ request in
            if let whole = request.wholeRequest(upTo: limit) { return await handler(whole) }
            return await handler(try await request.collect(upTo: limit))
        }, wholeBodyHandler: (handler, limit))
    }

    /// A responder for a handler that answers without suspending (a fixed answer, a health
    /// check, a look-up in memory). A request without a body is answered inline: the connection
    /// calls `answer` on its event loop as soon as the head is parsed and writes the response in
    /// the same turn, with no task switch. A request with a body is collected first (at most
    /// `limit` bytes; more is answered 413 without calling `answer`) and answered from the
    /// connection's handler task, as ``collecting(upTo:_:)`` does. Keep-alive, pipelining (in
    /// order), `HEAD` and framing are the same as for any responder, and a streamed or hand-off
    /// response body still works (it is produced by the handler task).
    ///
    /// `answer` runs on the loop thread inside the read that delivered the request: it must not
    /// block or do slow work, which would hold up every connection on that loop. Behind
    /// middleware the server calls it like any responder (through the middleware's async chain),
    /// so the inline path applies to a bare immediate responder only.
    public static func immediate(upTo limit: Int, _ answer: @escaping HTTPImmediateHandler) -> HTTPResponder {
        HTTPResponder({ request in
            if let whole = request.wholeRequest(upTo: limit) { return answer(whole) }
            return answer(try await request.collect(upTo: limit))
        }, wholeBodyHandler: ({ answer($0) }, limit), immediateHandler: answer)
    }

    /// Answers `request`.
    public func respond(to request: HTTPStreamingRequest) async throws -> HTTPResponse {
        try await body(request)
    }

    /// Answers `request` (so `next(request)` reads naturally inside a middleware).
    public func callAsFunction(_ request: HTTPStreamingRequest) async throws -> HTTPResponse {
        try await body(request)
    }
}

// MARK: - Middleware

/// A cross-cutting step around every request (logging, metrics, authentication, rate limits):
/// it sees the request, may answer it itself, or passes it (possibly changed) to `next` and may
/// change the response on the way back.
///
/// The server composes its middleware once, at start, in array order: the first element is the
/// outermost (it sees the request first and the response last).
public protocol HTTPMiddleware: Sendable {
    func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse
}

/// A middleware written as a closure.
public struct HTTPMiddlewareFunction: HTTPMiddleware {
    private let body: @Sendable (HTTPStreamingRequest, HTTPResponder) async throws -> HTTPResponse

    public init(_ body: @escaping @Sendable (HTTPStreamingRequest, HTTPResponder) async throws -> HTTPResponse) {
        self.body = body
    }

    public func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        try await body(request, next)
    }
}

extension HTTPResponder {
    /// `self` wrapped in `middleware`, the first element outermost. Built once; each request
    /// then costs one call per middleware.
    public func wrapped(in middleware: [any HTTPMiddleware]) -> HTTPResponder {
        if middleware.isEmpty { return self }
        var responder = self
        for layer in middleware.reversed() {
            let next = responder
            responder = HTTPResponder { request in try await layer.handle(request, next: next) }
        }
        return responder
    }
}
