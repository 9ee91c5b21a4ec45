import DiscoCore
import DiscoNet
import Sidecar

// MARK: - Protocol upgrades (WebSocket)

/// Passes an `Upgrade` request (a WebSocket handshake) to the upstream on a connection of its
/// own; when the upstream switches protocols, the client gets its `101` (with its
/// `Sec-WebSocket-Accept` and other fields) and the two connections are spliced, both ways,
/// until both sides have closed, or until no bytes have moved either way for the idle timeout
/// (then both are closed, counted in `disco_proxy_splice_idle_closed_total`). An answer that does not switch (a refusal, or an ordinary
/// response to `Upgrade: h2c`) goes through `relay` as any proxied response does: its head as
/// soon as it arrives, hop-by-hop fields removed, and its body streamed with bounded memory.
enum WebSocketForwarding {
    /// - Parameters:
    ///   - timeout: bounds the exchange up to the upstream's response head.
    ///   - idleTimeout: how long the spliced connections may pass no bytes either way (zero: no bound).
    ///   - relay: makes the client's response of an upstream answer that did not switch
    ///     (``ReverseProxy/relay(_:method:upstream:address:)``).
    static func forward(_ request: HTTPStreamingRequest, url: String, headers: HTTPHeaders, via client: HTTPClient, upstream: String,
                        address: String, timeout: Duration, idleTimeout: Duration, logger: Logger, metrics: ProxyMetrics,
                        relay: (HTTPClientStreamingResponse) async -> HTTPResponse) async -> HTTPResponse {
        let outcome: HTTPClientUpgradeOutcome
        do {
            // An upgrade request has no body worth streaming (a WebSocket handshake is a GET).
            let body = try await request.body.collect(upTo: ReverseProxy.wholeBodyLimit)
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
