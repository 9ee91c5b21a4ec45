// MARK: - Answering on the loop, without a task

/// Takes some requests before the middleware chain and the responder, on the connection's loop
/// thread, so that the common case of a busy server (a proxy forwarding to a pooled upstream
/// connection, a static answer) costs no task switch and no async call.
///
/// ``handle(_:reply:)`` is called for each request **without a body**, in order; a request
/// with a body always takes the responder. The handler either declines (returns false: the
/// request goes through the middleware and the responder exactly as without an inline handler,
/// so declining must come before anything with an effect) or takes the request and answers it
/// exactly once through ``HTTPInlineReply``, now or later. Pipelined requests behind it wait,
/// as they wait for a responder.
///
/// (``HTTPResponder/immediate(upTo:_:)`` is the other way to answer on the loop: a responder,
/// the end of the chain, for a server without middleware. An inline handler stands in front of
/// the middleware and may answer later.)
public protocol HTTPInlineHandler: Sendable {
    /// Takes `request` (returns true, and answers it through `reply`) or declines it (false).
    /// Called on the connection's loop thread; must not block.
    func handle(_ request: HTTPRequest, reply: HTTPInlineReply) -> Bool

    /// Whether ``handle(head:reply:)`` is worth offering heads to (false: the server does not
    /// look for simple heads, and every request comes through ``handle(_:reply:)``).
    var takesHeadViews: Bool { get }

    /// Takes a simple request head read in place (see ``HTTPRequestHeadView``), before any
    /// request value is made, or declines it (false, before any effect): the request is then
    /// parsed as usual and offered to ``handle(_:reply:)``. The view is valid only during the
    /// call. Called on the connection's loop thread; must not block.
    func handle(head: HTTPRequestHeadView, reply: HTTPInlineReply) -> Bool
}

extension HTTPInlineHandler {
    public var takesHeadViews: Bool { false }

    public func handle(head: HTTPRequestHeadView, reply: HTTPInlineReply) -> Bool { false }
}

/// How an ``HTTPInlineHandler`` answers the request it took: once, with a response now or with
/// async work that produces one.
public struct HTTPInlineReply: Sendable {
    let connection: HTTPServerConnection
    let id: UInt64

    /// The loop the connection lives on (the handler's own thread).
    public var loop: EventLoop { connection.loop }

    /// The client's address, when known.
    public var remoteAddress: SocketAddress? { connection.remoteAddress }

    /// The client's address as text (``SocketAddress/host`` of ``remoteAddress``), made once
    /// per connection on its loop thread.
    public var remoteHost: String? {
        connection.loop.inLoop ? connection.remoteHost : connection.remoteAddress?.host
    }

    /// The request being answered, parsed again from its head by the server's parser, for a
    /// handler that took it as an ``HTTPRequestHeadView`` and needs the whole request (a retry,
    /// work that has to wait). Nil once the exchange has ended, or for a request that did not
    /// come as a view. Loop thread only.
    public func request() -> HTTPRequest? {
        guard connection.loop.inLoop else { return nil }
        return connection.reparsedRequest(id)
    }

    /// Whether the client has gone (its connection closed, or the exchange ended; a FIN the
    /// server takes as a half-close leaves a client that waits), so that an answer would reach
    /// no one: for work that waited (``respond(later:)``) before it acts.
    public func clientHasLeft() async -> Bool {
        await HTTPServerClientProbe(connection: connection, exchangeID: id).clientHasLeft()
    }

    /// Sends `response`. On the loop thread a fixed body goes out at once; a streamed body, a
    /// hand-off, or a call from another thread goes through the connection's handler task.
    public func respond(_ response: HTTPResponse) {
        if connection.loop.inLoop {
            connection.deliverInline(response, to: id)
        } else {
            let connection = self.connection
            let id = self.id
            connection.loop.execute { connection.deliverInline(response, to: id) }
        }
    }

    /// Sends an upstream response relayed as bytes (``HTTPClient/executeInline(_:timeout:on:relay:completion:)``),
    /// framed by the server as any fixed body.
    public func respond(relayed: HTTPRelayedResponse) {
        if connection.loop.inLoop {
            connection.deliverRelayed(relayed, to: id)
        } else {
            let connection = self.connection
            let id = self.id
            connection.loop.execute { connection.deliverRelayed(relayed, to: id) }
        }
    }

    /// Answers with what `produce` returns, run in the connection's handler task (as a
    /// responder runs): for work that has to wait.
    public func respond(later produce: @escaping @Sendable () async -> HTTPResponse) {
        if connection.loop.inLoop {
            connection.deliverLater(produce, to: id)
        } else {
            let connection = self.connection
            let id = self.id
            connection.loop.execute { connection.deliverLater(produce, to: id) }
        }
    }
}
