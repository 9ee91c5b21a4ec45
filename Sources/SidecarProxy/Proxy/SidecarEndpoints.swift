import DiscoCore
import DiscoNet
import Sidecar

// MARK: - The sidecar's own endpoints

/// Answers the sidecar's own requests on the proxy port, under a prefix no upstream is expected
/// to use: `GET /.sidecar/readyz` (200 when every upstream is healthy, else 503 saying which
/// is not and why) and `GET /.sidecar/metrics` (Prometheus text). Everything else passes on.
struct SidecarEndpoints: HTTPMiddleware {
    static let prefix = "/.sidecar/"

    let health: UpstreamHealth
    let metrics: ProxyMetrics
    let openConnections: @Sendable () -> Int

    func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        guard request.target.hasPrefix(Self.prefix) else { return try await next(request) }
        switch (request.method, request.path) {
        case ("GET", "/.sidecar/readyz"):
            if let reason = health.notReadyReason { return ProxyErrorResponse.make(503, "not ready: \(reason)") }
            return HTTPResponse(headers: ["Content-Type": "application/json"], bytes: Array(#"{"ready":true}"#.utf8) + [0x0A])
        case ("GET", "/.sidecar/metrics"):
            let text = metrics.prometheusText(openHTTPConnections: openConnections(),
                                              health: health.all.map { ($0.upstream, $0.status.healthy) })
            return HTTPResponse(headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"], bytes: Array(text.utf8))
        default:
            return ProxyErrorResponse.make(404, "no sidecar endpoint \(request.method) \(request.path); there are GET /.sidecar/readyz and GET /.sidecar/metrics")
        }
    }
}
