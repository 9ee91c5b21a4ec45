// MARK: - One server connection: answers from an inline handler

extension HTTPServerConnection {
    /// An ``HTTPInlineHandler``'s answer to exchange `id` (loop thread). A fixed body is written
    /// at once; a stream or a hand-off needs the handler task. An answer to an exchange that
    /// has ended (the connection failed or closed meanwhile) is dropped.
    func deliverInline(_ response: HTTPResponse, to id: UInt64) {
        guard phase == .open, let exchange, exchange.id == id, exchange.response == .notStarted else { return }
        if response.body.fixedBytes != nil {
            _ = startResponse(response, to: id)
            return
        }
        queued.id = id
        queued.ready = response
        wakeHandler()
    }

    /// An ``HTTPInlineHandler``'s async work for exchange `id`, run by the handler task.
    func deliverLater(_ produce: @escaping @Sendable () async -> HTTPResponse, to id: UInt64) {
        guard phase == .open, let exchange, exchange.id == id, exchange.response == .notStarted else { return }
        queued.id = id
        queued.deferred = produce
        wakeHandler()
    }

    /// An inline handler's relayed upstream response to exchange `id`: its head is written
    /// around the already encoded fields, and the body follows in the same send.
    func deliverRelayed(_ relayed: HTTPRelayedResponse, to id: UInt64) {
        guard phase == .open, let exchange, exchange.id == id, exchange.response == .notStarted else { return }
        exchange.response = .streaming
        let head = exchange.request
        var keepAlive = wantsKeepAlive(head)
        if !discardUnreadBody() { keepAlive = false }
        send(HTTPResponseEncoder.relayed(relayed, version: head.version, omitBody: head.method == "HEAD", keepAlive: keepAlive))
        finishResponse(keepAlive: keepAlive)
    }
}
