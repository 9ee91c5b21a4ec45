// MARK: - Following redirects

/// Which origins a followed redirect may carry the request's credentials to (the
/// ``HTTPClientRequest/credentialHeaders``).
public enum HTTPRedirectCredentials: Sendable, Hashable {
    /// Only the origin (scheme, host and port) the request was made for: on a redirect to any
    /// other origin the credential headers are dropped, as curl and browsers do.
    case sameOrigin
    /// Every origin the redirects lead to. For a cluster whose nodes all hold the same
    /// credentials: a node that redirects to its leader has already received them, and the
    /// leader it names needs them too. (A redirect from TLS to plain HTTP is refused anyway.)
    case clusterPeers
}

extension HTTPClientRequest {
    /// Headers that carry credentials: dropped on a redirect to another origin unless the caller
    /// allows it (``HTTPRedirectCredentials``).
    public static let credentialHeaders = ["Authorization", "Proxy-Authorization", "Cookie", "X-Consul-Token", "app_key"]

    /// True when the request carries any of ``credentialHeaders``.
    var carriesCredentials: Bool { Self.credentialHeaders.contains { headers[$0] != nil } }
}

extension HTTPClient {
    /// Sends a request and follows up to `maxRedirects` redirects. 303 (and 301/302 after a
    /// POST) continue as GET without a body; 307 and 308 repeat the method and body (a streamed
    /// body cannot be repeated: that redirect is returned instead).
    ///
    /// A redirect from `https://` to `http://` is never followed: it fails with
    /// ``HTTPClientError/Code/insecureRedirect`` naming both URLs, since following it would send
    /// the request (its body, its credentials) unencrypted. Credential headers go on to another
    /// origin only as `credentials` allows.
    public func send(
        _ request: HTTPClientRequest, followingRedirects maxRedirects: Int, credentials: HTTPRedirectCredentials = .sameOrigin,
        timeout: Duration? = nil
    ) async throws -> HTTPClientResponse {
        var current = request
        var url = try request.parsedURL()
        let origin = url.origin
        for _ in 0...maxRedirects {
            let response = try await send(current, timeout: timeout)
            guard response.isRedirect, let location = response.headers["Location"] else { return response }
            let dropsBody = response.status == 303 || ((response.status == 301 || response.status == 302) && current.method == "POST")
            if current.bodyStream != nil && !dropsBody { return response }
            let next = try url.resolving(location)
            if url.isTLS && !next.isTLS {
                let carrying = current.carriesCredentials ? "the request and its credentials"
                    : !dropsBody && !current.body.isEmpty ? "the request and its body" : "the request"
                throw HTTPClientError(.insecureRedirect, host: url.authority, detail:
                    "refused to follow the redirect from \(url.text) to \(next.text): it leaves TLS for plain HTTP and would send \(carrying) unencrypted")
            }
            if next.origin != origin && credentials == .sameOrigin {
                for name in HTTPClientRequest.credentialHeaders { current.headers.remove(name) }
            }
            url = next
            current.url = url.text
            if dropsBody {
                current.method = "GET"
                current.body = []
                current.bodyStream = nil
                current.headers.remove("Content-Length")
                current.headers.remove("Content-Type")
            }
        }
        throw HTTPClientError(.tooManyRedirects, host: url.authority, detail: "more than \(maxRedirects) redirects")
    }
}
