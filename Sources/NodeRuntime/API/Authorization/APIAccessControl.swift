import DiscoCore
import DiscoNet

// MARK: - APIAccessControl

/// The API server's access-control middleware: finds the route a request is for in the node's
/// route table (its own endpoints and its roles') and lets the request through only when the
/// caller has the permission that route carries (``APIAuthorization``); otherwise it answers 401
/// or 403 itself and the handler never runs.
///
/// A request that matches no route passes: the router answers 404 or 405 to anyone. Without
/// `-auth` every request passes untouched. The body is read here only when the decision depends
/// on it (a `join-read-only` caller's `POST /join`, at most `maxBodyBytes`), and is then handed
/// on whole.
struct APIAccessControl: HTTPMiddleware {
    let authorization: APIAuthorization
    let router: APIRouter
    /// The most body this layer reads (the server's limit: more is answered 413).
    let maxBodyBytes: Int

    func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        guard !authorization.isOpen, case .route(let route) = router.match(method: request.method, path: request.path) else {
            return try await next(request)
        }
        var forwarded = request
        let verdict = try await authorization.verdict(method: request.method, path: request.path, headers: request.headers,
                                                      requirement: route.requirement) {
            let bytes = try await request.body.collect(upTo: maxBodyBytes)
            forwarded.body = .bytes(bytes)
            return bytes
        }
        switch verdict {
        case .allowed: return try await next(forwarded)
        case .refused(let response): return response
        }
    }
}
