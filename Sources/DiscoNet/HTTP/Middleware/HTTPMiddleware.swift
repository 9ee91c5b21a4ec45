// MARK: - Handlers

/// Handles one request with its whole body and returns its response (the classic handler; see
/// ``HTTPResponder/collecting(upTo:_:)``). Runs on the connection's event loop thread unless it
/// awaits something elsewhere; it must not block the thread (no blocking syscalls).
public typealias HTTPHandler = @Sendable (HTTPRequest) async -> HTTPResponse

/// Answers streamed requests: the end of a middleware chain, and what each middleware calls next.
///
/// A thrown ``HTTPParseError`` is answered with its status and reason (413 from
/// ``HTTPRequestBody/collect(upTo:)``, for example); any other error with 500.
public struct HTTPResponder: Sendable {
    private let body: @Sendable (HTTPStreamingRequest) async throws -> HTTPResponse
    /// Set for a bare ``collecting(upTo:_:)`` responder: the server calls the handler itself
    /// when the body is already whole, so the common small request costs no extra async frames.
    let wholeBodyHandler: (handler: HTTPHandler, limit: Int)?

    /// A responder that reads the body as it likes (streaming).
    public init(_ respond: @escaping @Sendable (HTTPStreamingRequest) async throws -> HTTPResponse) {
        body = respond
        wholeBodyHandler = nil
    }

    private init(_ respond: @escaping @Sendable (HTTPStreamingRequest) async throws -> HTTPResponse,
                 wholeBodyHandler: (handler: HTTPHandler, limit: Int)) {
        body = respond
        self.wholeBodyHandler = wholeBodyHandler
    }

    /// A responder for a whole-body handler: collects at most `limit` body bytes first and
    /// answers 413 (naming the limit) for a larger body, without calling `handler`.
    public static func collecting(upTo limit: Int, _ handler: @escaping HTTPHandler) -> HTTPResponder {
        HTTPResponder({ request in
            if let whole = request.wholeRequest(upTo: limit) { return await handler(whole) }
            return await handler(try await request.collect(upTo: limit))
        }, wholeBodyHandler: (handler, limit))
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
