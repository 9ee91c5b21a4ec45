// MARK: - One server connection: answering inline

extension HTTPServerConnection {
    /// The client's address as text (``SocketAddress/host``), made once per connection: a proxy
    /// asks for it on every request. Loop thread only.
    var remoteHost: String? {
        if let text = remoteHostText { return text }
        let text = remoteAddress?.host
        remoteHostText = .some(text)
        return text
    }

    /// Answers exchange `id` on the loop, inside the parse that read its head: the responder is an
    /// ``HTTPResponder/immediate(upTo:_:)`` one and the request has no body, so the response can
    /// be written now, with no handler-task resume or task switch. Pipelined requests stay in
    /// order: this runs only when no other exchange is in flight, and the parse loop reads the
    /// next head only after this one's response is queued. A streamed body or a hand-off is
    /// left to the connection's handler task. Returns false when the connection can take no
    /// more input (it is closing).
    func answerInline(_ request: HTTPRequest, exchange id: UInt64, with answer: HTTPImmediateHandler) -> Bool {
        deliverInline(answer(request), to: id)
        return phase == .open
    }

    /// A response for exchange `id` given on the loop without a task: by an immediate responder,
    /// or by an ``HTTPInlineHandler`` now or from a later turn. A fixed body is written at once; a
    /// stream or a hand-off goes on in the connection's handler task. An answer to an exchange
    /// that has ended (the connection failed or closed meanwhile) is dropped.
    func deliverInline(_ response: HTTPResponse, to id: UInt64) {
        guard phase == .open, let exchange, exchange.id == id, exchange.response == .notStarted else { return }
        let followUp = startResponse(response, to: id)
        if case .finished = followUp { return }
        queued.id = id
        queued.followUp = followUp
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
        send { out in
            HTTPResponseEncoder.appendRelayed(relayed, version: head.version, omitBody: head.method == "HEAD", keepAlive: keepAlive, to: &out)
        }
        finishResponse(keepAlive: keepAlive)
    }
}
