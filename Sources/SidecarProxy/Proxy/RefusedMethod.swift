import DiscoNet

// MARK: - Methods the proxy answers itself

/// The methods the proxy never passes on, answering them itself whatever the route.
enum RefusedMethod: String {
    /// The proxy opens no tunnels (501, the method is not implemented: RFC 9110 §9.1). Passed
    /// on, an upstream's 2xx would make the client's connection and the pooled upstream one
    /// tunnels the proxy still read as HTTP; and what a client sends after its CONNECT is meant
    /// for the tunnel, never a next request, so the connection closes after the answer (nginx
    /// answers 400 and closes).
    case connect = "CONNECT"
    /// 405, as nginx answers it. An upstream's echo of the request would hand a page's script
    /// the credentials and cookies sent with it (cross-site tracing), and a proxy that forwards
    /// TRACE must also honour `Max-Forwards` (RFC 9110 §7.6.2); the proxy does neither. The
    /// body, if any, is framed as any other, so the connection stays usable.
    case trace = "TRACE"

    /// The answer to a request of this method for `target`.
    func response(target: String) -> HTTPResponse {
        switch self {
        case .connect:
            ProxyErrorResponse.make(501, "CONNECT is not supported: this proxy does not open tunnels (to \(target.prefix(100)))",
                                    headers: ["Connection": "close"])
        case .trace:
            ProxyErrorResponse.make(405, "TRACE is not allowed: the proxy does not echo requests, which would expose their "
                                        + "credentials; use GET, HEAD, OPTIONS, POST, PUT, PATCH or DELETE",
                                    headers: ["Allow": "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE"])
        }
    }
}
