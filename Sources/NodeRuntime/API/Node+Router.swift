import DiscoCore
import DiscoNet

// MARK: - Routing

extension Node {
    static let endpoints = "POST /join, POST /notify, DELETE /remove, GET /status, GET /nodes, GET /leader, "
        + "GET /readyz, GET /metrics, GET|POST /events"

    /// Answers one API request (requests are counted by status in the server's middleware).
    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let path = request.path.count > 1 && request.path.hasSuffix("/") ? String(request.path.dropLast()) : request.path
        switch path {
        case "/events":
            switch request.method {
            case "GET": return await getEvents(request)
            case "POST": return await postEvent(request)
            default: return APIResponse.methodNotAllowed(request, allowed: "GET, POST")
            }
        case "/join":
            guard request.method == "POST" else { return APIResponse.methodNotAllowed(request, allowed: "POST") }
            return await join(request)
        case "/remove":
            guard request.method == "DELETE" || request.method == "POST" else {
                return APIResponse.methodNotAllowed(request, allowed: "DELETE")
            }
            return await remove(request)
        case "/notify", "/bootstrap/propose", "/bootstrap/abandon", "/bootstrap/status":
            return await formationRequest(request, path: path)
        case "/status", "/nodes", "/leader", "/readyz", "/metrics":
            guard request.method == "GET" || request.method == "HEAD" else {
                return APIResponse.methodNotAllowed(request, allowed: "GET")
            }
            switch path {
            case "/status": return await status()
            case "/nodes": return await nodes()
            case "/leader": return leader()
            case "/readyz": return await readyz(request)
            default: return await prometheusMetrics()
            }
        default:
            return APIResponse.error(404, "no endpoint \(request.path); the API has \(Self.endpoints)")
        }
    }
}
