import DiscoCore
import DiscoNet
import Sidecar

// MARK: - Protocol upgrades (WebSocket)

/// Passes an `Upgrade` request (a WebSocket handshake) to the upstream on a connection of its
/// own; when the upstream switches protocols, the client gets its `101` (with its
/// `Sec-WebSocket-Accept` and other fields) and the two connections are spliced, both ways,
/// until both sides have closed, or until no bytes have moved either way for the idle timeout
/// (then both are closed, counted in `disco_proxy_splice_idle_closed_total`). `Upgrade: h2c` never comes here
/// (``ReverseProxy`` forwards it as a plain request). An answer that does not switch (a refusal) goes through `relay` as any proxied response does: its head as
/// soon as it arrives, hop-by-hop fields removed, and its body streamed with bounded memory.
enum WebSocketForwarding {
    /// Whether a request asks for an upgrade the proxy passes on (`Connection: upgrade` and an
    /// `Upgrade` field, in HTTP/1.1). `Upgrade: h2c` is not (nginx passes no `Upgrade` unless
    /// told to): an upstream that switched would receive a tunnel of HTTP/2 requests that no
    /// route, rate limit or API key check sees (h2c smuggling). Nor is the `Upgrade` of an
    /// HTTP/1.0 request, which a server must ignore (RFC 9110 §7.8; a 1xx, `101` included, is
    /// never sent to an HTTP/1.0 client). Such a request goes on as a plain request, its
    /// `Upgrade` dropped as any hop-by-hop field.
    static func isPassedUpgrade(_ request: HTTPStreamingRequest) -> Bool {
        let headers = request.headers
        return request.version.minor >= 1 && headers.hasToken("upgrade", in: "Connection") && headers.contains("Upgrade")
            && !headers.hasToken("h2c", in: "Upgrade")
    }

    /// - Parameters:
    ///   - timeout: bounds the exchange up to the upstream's response head.
    ///   - idleTimeout: how long the spliced connections may pass no bytes either way (zero: no bound).
    ///   - unreadBody: the answer when the request's body cannot be read
    ///     (``ReverseProxy/unreadBody(_:_:)``: the status the server sent, or 499).
    ///   - relay: makes the client's response of an upstream answer that did not switch
    ///     (``ReverseProxy/relay(_:method:upstream:address:)``).
    static func forward(_ request: HTTPStreamingRequest, url: String, headers: HTTPHeaders, via client: HTTPClient, upstream: String,
                        address: String, timeout: Duration, idleTimeout: Duration, logger: Logger, metrics: ProxyMetrics,
                        unreadBody: (any Error) async -> HTTPResponse,
                        relay: (HTTPClientStreamingResponse) async -> HTTPResponse) async -> HTTPResponse {
        // An upgrade request has no body worth streaming (a WebSocket handshake is a GET). One
        // the proxy cannot take is the client's doing, not a failure of the upstream.
        let body: [UInt8]
        do {
            body = try await request.body.collect(upTo: ReverseProxy.wholeBodyLimit)
        } catch let error as HTTPParseError where error.status == 413 {
            return ProxyErrorResponse.make(413, "the body of a request asking for an upgrade (Upgrade: "
                + "\(request.headers["Upgrade"] ?? "")) may be at most \(ReverseProxy.wholeBodyLimit) bytes")
        } catch {
            return await unreadBody(error)
        }
        let outcome: HTTPClientUpgradeOutcome
        do {
            outcome = try await client.executeUpgrade(HTTPClientRequest(method: request.method, url: url, headers: headers, body: body),
                                                      timeout: timeout)
        } catch {
            metrics.upstreamFailure(upstream)
            logger.warning("upgrade of \(request.path) to upstream \(upstream) (\(address)) failed: \(error)")
            return ProxyErrorResponse.upstreamFailure(error, upstream: upstream, address: address)
        }
        let answer: HTTPClientResponse
        let upstreamSide: HTTPUpgradedConnection
        switch outcome {
        case .answered(let response):
            return await relay(response)
        case .switched(let response, let upgraded):
            answer = response
            upstreamSide = upgraded
        }
        let token = answer.headers["Upgrade"] ?? request.headers["Upgrade"] ?? "websocket"
        let fields = ForwardingHeaders.response(answer.headers.fields, upgrade: true)
            .filter { $0.name.lowercased() != "upgrade" }
        return HTTPResponse.switchingProtocols(to: token, headers: HTTPHeaders(fields)) { clientSide in
            let outcome = await clientSide.splice(with: upstreamSide, idleTimeout: idleTimeout > .zero ? idleTimeout : nil)
            upstreamSide.connection.close()
            if outcome.idleTimedOut { metrics.spliceIdleClosed(.webSocket) }
            if let failure = outcome.failure {
                logger.debug("upgraded connection to upstream \(upstream) ended: \(failure)")
            }
        }
    }
}
