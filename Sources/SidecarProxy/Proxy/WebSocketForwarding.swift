import DiscoCore
import DiscoNet
import Sidecar

// MARK: - Protocol upgrades (WebSocket)

/// Passes an `Upgrade` request (a WebSocket handshake) to the upstream on a connection of its
/// own; when the upstream switches protocols, the client gets its `101` (with its
/// `Sec-WebSocket-Accept` and other fields) and the two connections are spliced, both ways,
/// until both sides have closed. A refusal is relayed as it came.
enum WebSocketForwarding {
    static func forward(_ request: HTTPStreamingRequest, url: String, headers: HTTPHeaders, via client: HTTPClient, upstream: String,
                        address: String, timeout: Duration, logger: Logger, metrics: ProxyMetrics) async -> HTTPResponse {
        let result: HTTPClientUpgradeResult
        do {
            // An upgrade request has no body worth streaming (a WebSocket handshake is a GET).
            let body = try await request.body.collect(upTo: ReverseProxy.wholeBodyLimit)
            result = try await client.upgrade(HTTPClientRequest(method: request.method, url: url, headers: headers, body: body), timeout: timeout)
        } catch {
            metrics.upstreamFailure(upstream)
            logger.warning("upgrade of \(request.path) to upstream \(upstream) (\(address)) failed: \(error)")
            return ProxyErrorResponse.upstreamFailure(error, upstream: upstream, address: address)
        }
        let answer = result.response
        guard let upstreamSide = result.upgraded else {
            let fields = ForwardingHeaders.response(answer.headers.fields)
            return HTTPResponse(status: answer.status, reason: answer.reason, headers: HTTPHeaders(fields),
                                body: .bytes(answer.body))
        }
        let token = answer.headers["Upgrade"] ?? request.headers["Upgrade"] ?? "websocket"
        let fields = ForwardingHeaders.response(answer.headers.fields, upgrade: true)
            .filter { $0.name.lowercased() != "upgrade" }
        return HTTPResponse.switchingProtocols(to: token, headers: HTTPHeaders(fields)) { clientSide in
            let outcome = await clientSide.splice(with: upstreamSide)
            upstreamSide.connection.close()
            if let failure = outcome.failure {
                logger.debug("upgraded connection to upstream \(upstream) ended: \(failure)")
            }
        }
    }
}
