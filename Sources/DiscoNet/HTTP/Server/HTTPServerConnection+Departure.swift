// MARK: - One server connection: a client that leaves while its request is being answered

/// Work done for a request outside the connection's handler task that must stop when the
/// request's client leaves: an inline exchange with an upstream
/// (``HTTPClient/executeInline(method:origin:target:fieldsSize:encodeFields:timeout:on:relay:cancelledWith:completion:)``).
/// Registered with the exchange (``HTTPInlineReply/watchDeparture(_:token:)``) and called on
/// the connection's loop thread, at most once, only if the client leaves first.
protocol HTTPClientDepartureObserver: AnyObject {
    /// The client of the request that registered with `token` has gone: stop, and answer nothing.
    func clientDeparted(token: UInt64)
}

extension HTTPServerConnection {
    /// Whether the peer's end of stream, read while a request is being answered (its body
    /// complete), means the client has left. A TCP FIN does not say whether the client closed
    /// its socket or only shut down its sending side (`shutdown(SHUT_WR)`), so, as nginx does
    /// (`proxy_ignore_client_abort off`, status 499), it counts as leaving. Not when:
    /// - the client pipelines (it sent requests behind this one before it was answered): it
    ///   finished sending and waits for its answers, which it gets, in order;
    /// - a protocol switch has begun: the end of stream is the new protocol's (a tunnel passes
    ///   the half-close on);
    /// - the server is configured not to (``HTTPServerConfiguration/abandonsRequestsOfClosedClients``).
    func peerFinishedDuringExchange() -> Bool {
        guard let exchange, exchange.body.complete, !exchange.handingOff, !clientPipelines else { return false }
        return shared.configuration.abandonsRequestsOfClosedClients
    }

    /// Whether the bytes read ahead hold more than line breaks: a request the client sent before
    /// the one being answered was answered (it pipelines). A CR or LF alone, which some clients
    /// send after a body and a server ignores before a request line (RFC 9112 §2.2), is none:
    /// its sender still leaves when it closes. Loop thread only.
    var bufferHoldsARequest: Bool { buffer.readable.contains { $0 != 0x0D && $0 != 0x0A } }

    /// The connection closed (the client left, reset it, or a read or write failed) while a
    /// request was being answered: nobody will read the answer. The work for it stops: an
    /// inline exchange registered with it is told, and the handler task is cancelled (a long
    /// poll ends, a proxied request closes its upstream connection). Whatever the handler still
    /// answers is dropped (the connection is closed). Loop thread only.
    func abandonExchange() {
        guard let exchange else { return }
        if let observer = exchange.departure {
            exchange.departure = nil
            observer.clientDeparted(token: exchange.departureToken)
        }
        if handlerTaskRunning { handlerTask?.cancel() }
    }
}

extension HTTPInlineReply {
    /// Registers `observer` to be told (with `token`) if the client leaves before this request
    /// is answered. Loop thread only; ignored once the exchange has ended.
    func watchDeparture(_ observer: any HTTPClientDepartureObserver, token: UInt64) {
        guard connection.loop.inLoop, let exchange = connection.exchange, exchange.id == id,
              exchange.response == .notStarted else { return }
        exchange.departure = observer
        exchange.departureToken = token
    }
}
