import Bootstrap
import DiscoCore
import DiscoNet

// MARK: - Routing

extension Node {
    /// The node's own endpoints, each with the permission it needs (``EndpointPermissions``);
    /// the roles' routes join them in the node's ``APIRouter``.
    static let builtInRoutes: [APIRoute] = {
        typealias Route = APIRoute
        // Each takes the one method the bootstrap shell answers it with.
        let formation = BootstrapShell.routes.sorted { $0.key < $1.key }.map { path, method in
            Route([method], path, requirement: .permission(.join)) { node, request in await node.formationRequest(request, path: path) }
        }
        return [
            Route(["POST"], "/join", requirement: .joinByRole, runsToCompletion: true) { node, request in await node.join(request) },
            Route(["DELETE", "POST"], "/remove", requirement: .permission(.remove), runsToCompletion: true) { node, request in await node.remove(request) },
            Route(["POST"], "/events", requirement: .permission(.eventsWrite)) { node, request in await node.postEvent(request) },
            Route(["GET"], "/events", requirement: .permission(.eventsRead)) { node, request in await node.getEvents(request) },
            // Moving a consumer's cursor changes replicated state: it takes the write permission.
            Route(["POST"], "/events/ack", requirement: .permission(.eventsWrite)) { node, request in await node.postEventAck(request) },
            Route(["GET"], "/events/cursor", requirement: .permission(.eventsRead)) { node, request in node.getEventCursor(request) },
            // Plug-ins' writes forwarded between nodes (sent with the -join-as user).
            Route(["POST"], keyValueTransactionPath, requirement: .permission(.join)) { node, request in
                await node.postKeyValueTransaction(request)
            },
            // A follower's read barrier, asked of the leader with the -join-as user.
            Route(["GET"], readIndexPath, requirement: .permission(.join)) { node, request in await node.getReadIndex(request) },
            Route(["GET"], "/status", requirement: .permission(.status)) { node, request in await node.status(request) },
            Route(["GET"], "/nodes", requirement: .permission(.status)) { node, request in await node.nodes(request) },
            Route(["GET"], "/leader", requirement: .permission(.status)) { node, request in node.leader(request) },
            // Moving leadership changes the cluster: the permission that removes members. Membership
            // and leadership changes run to their end when their client leaves.
            Route(["POST"], "/leader/transfer", requirement: .permission(.remove), runsToCompletion: true) { node, request in await node.transferLeadership(request) },
            Route(["GET"], "/readyz", requirement: .permission(.ready)) { node, request in await node.readyz(request) },
            Route(["GET"], "/metrics", requirement: .permission(.metrics)) { node, request in await node.prometheusMetrics(request) },
        ] + formation
    }()

    /// Answers one API request: the route table finds the endpoint (404 and 405 answer anyone),
    /// then its handler answers. Access control (``APIAccessControl``) and request counting ran
    /// before, as middleware of the server.
    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        switch router.match(method: request.method, path: request.path) {
        case .notFound:
            APIResponse.error(404, "no endpoint \(request.path); the API has \(router.summary)")
        case .methodNotAllowed(let allowed):
            APIResponse.methodNotAllowed(request, allowed: allowed.joined(separator: ", "))
        case .route(let route) where route.runsToCompletion:
            // In a task the node owns, which the server's cancellation of this one does not reach.
            await withCheckedContinuation { continuation in
                let started = completingRequests.spawn { continuation.resume(returning: await route.handler(self, request)) }
                if !started { continuation.resume(returning: APIResponse.error(503, "the node is stopping; send this change to another node")) }
            }
        case .route(let route):
            await route.handler(self, request)
        }
    }

    /// The path without one trailing slash (`/status/` is `/status`).
    static func normalizedPath(_ path: String) -> String {
        path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }
}
