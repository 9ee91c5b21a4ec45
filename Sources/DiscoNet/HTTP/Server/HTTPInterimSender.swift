// MARK: - Interim (1xx) responses from a handler

/// Sends interim (1xx) responses on one exchange, before its final response: `103 Early Hints`
/// while the final answer is still being computed, or a proxy passing on its upstream's.
/// A request the server parsed carries one (``HTTPStreamingRequest/interimSender``); an
/// ``HTTPInlineReply`` sends them itself (``HTTPInlineReply/sendInterim(_:)``).
///
/// Each is written on the connection's loop, in the order sent, and only while the exchange's
/// response has not started: to an HTTP/1.1 client, never to an HTTP/1.0 one (RFC 9110 §15.2),
/// with any `Content-Length`, `Transfer-Encoding` or `Connection` field dropped (an interim
/// response has no body and does not decide the connection's fate).
public struct HTTPInterimSender: Sendable {
    let connection: HTTPServerConnection
    let exchangeID: UInt64

    /// Writes `interim` (queued on the connection once this returns, before anything the
    /// handler answers after). Returns false, having sent nothing, when its status is not one
    /// ``HTTPInterimResponse/isSendable(status:)`` allows, the client speaks HTTP/1.0, the
    /// response has started, or the exchange or its connection has ended.
    @discardableResult
    public func send(_ interim: HTTPInterimResponse) async -> Bool {
        let connection = self.connection
        let id = exchangeID
        if connection.loop.inLoop { return connection.sendInterim(interim, to: id) }
        return (try? await connection.loop.submit { connection.sendInterim(interim, to: id) }) ?? false
    }
}

extension HTTPStreamingRequest {
    /// Sends interim (1xx) responses before this request's final response (see
    /// ``HTTPInterimSender``); nil for a request built in code.
    public var interimSender: HTTPInterimSender? {
        client.map { HTTPInterimSender(connection: $0.connection, exchangeID: $0.exchangeID) }
    }
}

extension HTTPInlineReply {
    /// Sends `interim` before the response (see ``HTTPInterimSender``). On the loop thread it is
    /// written at once; from another thread on the loop's next turn, in order with the
    /// ``respond(_:)`` that follows it from the same thread.
    public func sendInterim(_ interim: HTTPInterimResponse) {
        if connection.loop.inLoop {
            _ = connection.sendInterim(interim, to: id)
        } else {
            let connection = self.connection
            let id = self.id
            connection.loop.execute { _ = connection.sendInterim(interim, to: id) }
        }
    }

    /// `request` (the one this handler took) as the responder path sees it, answered on this
    /// exchange: its ``HTTPStreamingRequest/interimSender`` and
    /// ``HTTPStreamingRequest/clientHasLeft()`` are this exchange's. For work that answers
    /// later through the responder path's code.
    public func streamingRequest(_ request: HTTPRequest) -> HTTPStreamingRequest {
        var streaming = HTTPStreamingRequest(method: request.method, target: request.target, version: request.version,
                                             headers: request.headers, body: .bytes(request.body), remoteAddress: request.remoteAddress)
        streaming.client = HTTPServerClientProbe(connection: connection, exchangeID: id)
        return streaming
    }
}

extension HTTPServerConnection {
    /// Writes `interim` on exchange `id` while its response has not started, to an HTTP/1.1
    /// client only (loop thread only). See ``HTTPInterimSender``.
    func sendInterim(_ interim: HTTPInterimResponse, to id: UInt64) -> Bool {
        guard phase == .open, let exchange, exchange.id == id, exchange.response == .notStarted, !exchange.handingOff,
              exchange.request.version.minor >= 1, HTTPInterimResponse.isSendable(status: interim.status) else { return false }
        send { out in HTTPResponseEncoder.appendInterim(interim, to: &out) }
        return true
    }
}
