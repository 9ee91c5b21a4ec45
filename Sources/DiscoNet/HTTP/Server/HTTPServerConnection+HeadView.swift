// MARK: - One server connection: simple heads offered in place

extension HTTPServerConnection {
    /// Offers the head at the start of the buffer to `inline` as an ``HTTPRequestHeadView``
    /// when it is a simple one (``HTTPSimpleRequestHead``) and arrived whole: no request value,
    /// no parser event. Returns true when the handler took it (its bytes are consumed); false
    /// leaves everything as it was for the general parser.
    ///
    /// Only a head the parser has not begun to scan is offered: one that arrives in pieces is
    /// the parser's (resumable) work, so no byte is ever scanned here more than once.
    func offerHeadView(to inline: any HTTPInlineHandler) -> Bool {
        let readable = buffer.readable
        guard let head = HTTPSimpleRequestHead.recognise(readable, limits: shared.configuration.limits, fields: &headFields) else {
            return false
        }
        let bytes = UnsafeBufferPointer(rebasing: readable[0..<head.length])
        lastExchangeID &+= 1
        let id = lastExchangeID
        let exchange = startExchange(id: id, request: HTTPRequestSummary(method: HTTPSyntax.commonString(bytes, head.method), asksToClose: head.asksToClose),
                                     complete: true, expectsContinue: false)
        exchange.viewedHead.append(contentsOf: bytes)
        // The handler may answer at once. That cannot re-enter parsing (processInput only notes
        // it) or read (readiness is delivered in a later turn), so the buffer's bytes and the
        // field list stay as they are under the view while it runs; an answer that ends the
        // connection only resets the buffer's indices (below).
        let taken = headFields.withUnsafeBufferPointer { fields in
            inline.handle(head: HTTPRequestHeadView(bytes: bytes, head: head, fields: fields), reply: HTTPInlineReply(connection: self, id: id))
        }
        guard taken else {
            // Declined before any effect: the exchange is undone and the parser reads the head.
            self.exchange = nil
            spareExchange = exchange
            return false
        }
        headerTimerRunning = false
        // An answer given at once that ended the connection (it lingers or is closed) emptied
        // the buffer with it: nothing is left to consume.
        if phase == .open { buffer.consume(head.length) }
        return true
    }

    /// Makes (or reuses) the exchange for a new request and makes it current.
    @discardableResult
    func startExchange(id: UInt64, request: HTTPRequestSummary, complete: Bool, expectsContinue: Bool) -> HTTPServerExchange {
        let started: HTTPServerExchange
        if let spare = spareExchange {
            spareExchange = nil
            spare.reset(id: id, request: request, complete: complete, expectsContinue: expectsContinue)
            started = spare
        } else {
            started = HTTPServerExchange(id: id, request: request,
                                         body: HTTPServerRequestBodyState(complete: complete, expectsContinue: expectsContinue))
        }
        exchange = started
        return started
    }

    /// The request of exchange `id` parsed again from the head it came with as a view, while
    /// that exchange is current.
    func reparsedRequest(_ id: UInt64) -> HTTPRequest? {
        guard let exchange, exchange.id == id, !exchange.viewedHead.isEmpty else { return nil }
        var parser = HTTPRequestParser(limits: shared.configuration.limits)
        var events: [HTTPRequestParserEvent] = []
        _ = try? exchange.viewedHead.withUnsafeBufferPointer { try parser.parse($0, into: &events) }
        guard case .head(let head)? = events.first else { return nil }
        return HTTPRequest(method: head.method, target: head.target, version: head.version, headers: head.headers, remoteAddress: remoteAddress)
    }
}
