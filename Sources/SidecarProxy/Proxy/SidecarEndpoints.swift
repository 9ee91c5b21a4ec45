import DiscoCore
import DiscoNet
import Sidecar

// MARK: - The sidecar's own endpoints

/// Answers the sidecar's own requests on the proxy port, under a prefix no upstream is expected
/// to use: `GET /.sidecar/readyz` (200 when every upstream is healthy and the writer is known,
/// else 503 saying what is missing), `GET /.sidecar/metrics` (Prometheus text) and, with shared
/// rate-limit zones, `POST /.sidecar/ratelimit/counts` (another sidecar's counts, with a proof:
/// ``SharedZoneExchange``). HEAD answers as GET; another method on those paths is 405 with
/// `Allow`. Everything else passes on.
struct SidecarEndpoints: HTTPMiddleware {
    static let prefix = "/.sidecar/"

    let health: UpstreamHealth
    let writer: any WriterResolver
    let metrics: ProxyMetrics
    let openConnections: @Sendable () -> Int
    var exchange: SharedZoneExchange?

    func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        guard request.target.hasPrefix(Self.prefix) else { return try await next(request) }
        // HEAD answers as GET (the server leaves the body out); other methods on a known path are 405.
        let method = request.method == "HEAD" ? "GET" : request.method
        switch (method, request.path) {
        case ("GET", "/.sidecar/readyz"):
            var reasons: [String] = []
            if let reason = health.notReadyReason { reasons.append(reason) }
            if case .unknown(let reason) = writer.current { reasons.append("writes cannot be routed: \(reason)") }
            if !reasons.isEmpty { return ProxyErrorResponse.make(503, "not ready: " + reasons.joined(separator: "; ")) }
            return HTTPResponse(headers: ["Content-Type": "application/json"], bytes: Array(#"{"ready":true}"#.utf8) + [0x0A])
        case ("GET", "/.sidecar/metrics"):
            let text = metrics.prometheusText(openHTTPConnections: openConnections(),
                                              health: health.all.map { ($0.upstream, $0.status.healthy) })
            return HTTPResponse(headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"], bytes: Array(text.utf8))
        case ("POST", SharedZoneExchange.path):
            guard let exchange else {
                return ProxyErrorResponse.make(404, "this sidecar shares no rate-limit zone; POST \(SharedZoneExchange.path) needs a zone marked shared")
            }
            return await exchange.receive(request)
        case (_, "/.sidecar/readyz"), (_, "/.sidecar/metrics"):
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: "GET, HEAD")
            return ProxyErrorResponse.make(405, "\(request.method) is not allowed on \(request.path); use GET", headers: headers)
        case (_, SharedZoneExchange.path) where exchange != nil:
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: "POST")
            return ProxyErrorResponse.make(405, "\(request.method) is not allowed on \(request.path); use POST", headers: headers)
        default:
            return ProxyErrorResponse.make(404, "no sidecar endpoint \(request.method) \(request.path); there are GET /.sidecar/readyz and GET /.sidecar/metrics")
        }
    }
}
