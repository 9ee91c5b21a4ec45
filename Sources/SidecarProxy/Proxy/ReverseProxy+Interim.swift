import DiscoNet
import Sidecar

// MARK: - Interim (1xx) responses from the upstream

extension ReverseProxy {
    /// Passes the upstream's interim responses (`103 Early Hints` and other 1xx) to the client as
    /// each arrives, before the final response, as a proxy must (RFC 9110 §15.2): `outgoing`
    /// hands them to the exchange `request` is answered on. Not for an HTTP/1.0 client, which
    /// gets none (the server would refuse them anyway), nor a request built in code.
    static func forwardsInterim(of request: HTTPStreamingRequest, in outgoing: inout HTTPClientRequest) {
        guard request.version.minor >= 1, let sender = request.interimSender else { return }
        outgoing.onInterim = { interim in
            guard let forwarded = forwardedInterim(interim) else { return }
            await sender.send(forwarded)
        }
    }

    /// The upstream's interim response as the client gets it: hop-by-hop fields (`Connection`
    /// and the fields it names, `Keep-Alive`…) removed as from any response. Nil for `100
    /// Continue`, which answered the proxy's own request (the proxy answers a client's `Expect:
    /// 100-continue` itself). A `101` never comes here: an upgrade is spliced.
    static func forwardedInterim(_ interim: HTTPInterimResponse) -> HTTPInterimResponse? {
        guard interim.status != 100 else { return nil }
        return HTTPInterimResponse(status: interim.status, reason: interim.reason,
                                   headers: HTTPHeaders(ForwardingHeaders.response(interim.headers.fields)))
    }
}
