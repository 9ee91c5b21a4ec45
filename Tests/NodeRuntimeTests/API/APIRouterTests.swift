import Bootstrap
@testable import NodeRuntime
import Testing

// MARK: - Methods the route table answers

@Suite struct APIRouterTests {
    /// The formation routes (`/notify`, `/bootstrap/*`) were declared for GET and POST while
    /// each takes one method: a 405 said `Allow: GET, POST`, and the method it offered was then
    /// refused with another 405 (`GET /notify`), or answered on a clustered node although no
    /// such endpoint exists (`POST /bootstrap/status`). Each now allows its one method.
    @Test func formationRoutesAllowTheOneMethodEachTakes() throws {
        let router = try APIRouter(Node.builtInRoutes)
        for (path, method) in BootstrapShell.routes {
            guard case .route = router.match(method: method, path: path) else {
                Issue.record("\(method) \(path) has no route")
                continue
            }
            let other = method == "GET" ? "POST" : "GET"
            for wrong in [other, "PUT"] {
                guard case .methodNotAllowed(let allowed) = router.match(method: wrong, path: path) else {
                    Issue.record("\(wrong) \(path) is routed; only \(method) is answered")
                    continue
                }
                #expect(allowed == [method], "\(wrong) \(path): Allow \(allowed)")
            }
        }
    }
}
