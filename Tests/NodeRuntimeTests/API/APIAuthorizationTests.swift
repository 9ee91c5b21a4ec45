import DiscoAuth
import DiscoCore
@testable import DiscoNet
@testable import NodeRuntime
import Synchronization
import Testing

// MARK: - Access control as a middleware of the API server

@Suite struct APIAuthorizationTests {
    let file = """
        [{"username":"replica","password":"r","perms":["join-read-only"]},
         {"username":"ops","password":"o","perms":["remove","status"]},
         {"username":"*","perms":["ready"]}]
        """

    /// A route a role adds: the middleware checks its permission like the node's own.
    static let roleRoute = APIRoute(["GET"], "/hot", subpaths: true, permission: .status) { _ in HTTPResponse(status: 200, bytes: []) }

    func accessControl(auth: Bool = true) throws -> APIAccessControl {
        let authorization = try APIAuthorization(auth: auth ? try AuthFile.parse(Array(file.utf8), path: "auth.json") : nil)
        return APIAccessControl(authorization: authorization, router: try APIRouter(Node.builtInRoutes + [Self.roleRoute]),
                                maxBodyBytes: 1 << 10)
    }

    func request(_ method: String, _ target: String, body: String = "", user: String? = nil, password: String = "") -> HTTPStreamingRequest {
        var headers = HTTPHeaders()
        if let user { headers.add(name: "Authorization", value: BasicCredentials(username: user, password: password).headerValue) }
        return HTTPStreamingRequest(method: method, target: target, headers: headers, body: .bytes(Array(body.utf8)))
    }

    /// The middleware's answer, or 299 when it passed the request on (with the body the next
    /// layer read).
    func status(_ layer: APIAccessControl, _ request: HTTPStreamingRequest) async throws -> (Int, HTTPResponse, String?) {
        let passedBody = Mutex<String?>(nil)
        let next = HTTPResponder { forwarded in
            let body = try await forwarded.body.collect(upTo: 1 << 10)
            passedBody.withLock { $0 = String(decoding: body, as: UTF8.self) }
            return HTTPResponse(status: 299, bytes: [])
        }
        let response = try await layer.handle(request, next: next)
        return (response.status, response, passedBody.withLock { $0 })
    }

    @Test func everyEndpointHasItsPermission() throws {
        let router = try APIRouter(Node.builtInRoutes)
        let expected: [(String, String, Permission)] = [
            ("POST", "/join", .join), ("POST", "/notify", .join), ("POST", "/bootstrap/propose", .join),
            ("GET", "/bootstrap/status", .join), ("DELETE", "/remove", .remove), ("POST", "/events", .eventsWrite),
            ("GET", "/events?since=3", .eventsRead), ("GET", "/status", .status), ("GET", "/nodes/", .status),
            ("GET", "/leader", .status), ("GET", "/readyz?noleader", .ready), ("HEAD", "/metrics", .metrics),
            ("POST", "/kv/txn", .join), ("POST", "/bootstrap/abandon", .join), ("POST", "/events/ack", .eventsWrite),
            ("GET", "/events/cursor?role=dns&consumer=c1", .eventsRead), ("GET", "/kv/read-index", .join),
        ]
        for (method, target, permission) in expected {
            let path = String(target.prefix { $0 != "?" })
            guard case .route(let route) = router.match(method: method, path: path) else {
                Issue.record("\(method) \(target) has no route")
                continue
            }
            #expect(route.requirement.primary == permission, "\(method) \(target)")
        }
    }

    @Test func anonymousCallersGetOnlyTheStarPermissions() async throws {
        let layer = try accessControl()
        #expect(try await status(layer, request("GET", "/readyz")).0 == 299)
        let (code, response, passed) = try await status(layer, request("DELETE", "/remove", body: #"{"id":"2"}"#))
        #expect(code == 401 && passed == nil)
        #expect(response.headers["WWW-Authenticate"] == #"Basic realm="disco""#)
        #expect(text(response).contains(#""permission":"remove""#), "\(text(response))")
        // Unknown endpoints and methods reach the router, which answers 404 or 405 to anyone.
        #expect(try await status(layer, request("GET", "/nowhere")).0 == 299)
        #expect(try await status(layer, request("PUT", "/events")).0 == 299)
    }

    @Test func joinReadOnlyAllowsNonVoterJoinsOnlyAndPassesTheBodyOnWhole() async throws {
        let layer = try accessControl()
        let body = #"{"id":"9","voter":false}"#
        let (code, _, passed) = try await status(layer, request("POST", "/join", body: body, user: "replica", password: "r"))
        #expect(code == 299)
        #expect(passed == body)  // read once to decide, and handed on unchanged
        let voter = request("POST", "/join", body: #"{"id":"9","voter":true}"#, user: "replica", password: "r")
        let (refused, response, _) = try await status(layer, voter)
        #expect(refused == 403)
        #expect(text(response).contains(#"user \"replica\" lacks the join permission"#), "\(text(response))")
        #expect(try await status(layer, request("DELETE", "/remove", user: "ops", password: "o")).0 == 299)
        #expect(try await status(layer, request("DELETE", "/remove", user: "ops", password: "x")).0 == 401)
        // A body beyond the limit is refused with 413 by the read, never passed on.
        let huge = request("POST", "/join", body: String(repeating: " ", count: 2 << 10) + body, user: "replica", password: "r")
        await #expect(throws: HTTPParseError.self) { _ = try await status(layer, huge) }
    }

    @Test func aRolesRouteIsCheckedWithItsOwnPermission() async throws {
        let layer = try accessControl()
        #expect(try await status(layer, request("GET", "/hot/leases")).0 == 401)
        #expect(try await status(layer, request("GET", "/hot/leases", user: "replica", password: "r")).0 == 403)
        #expect(try await status(layer, request("GET", "/hot/leases", user: "ops", password: "o")).0 == 299)
    }

    /// Two `Authorization` headers are refused (400), wherever anonymous callers would pass:
    /// the node read the first and ignored the second, so a layer in front of it that reads the
    /// last (or both) decided on other credentials than the node, as with a key given twice in
    /// a JSON body.
    @Test func twoAuthorizationHeadersAreRefused() async throws {
        let layer = try accessControl()
        for (first, second) in [(("ops", "o"), ("replica", "r")), (("replica", "r"), ("ops", "o")), (("ops", "o"), ("ops", "o"))] {
            for target in ["/remove", "/readyz"] {
                var request = request(target == "/remove" ? "DELETE" : "GET", target, user: first.0, password: first.1)
                request.headers.add(name: "Authorization", value: BasicCredentials(username: second.0, password: second.1).headerValue)
                let (code, response, passed) = try await status(layer, request)
                #expect(code == 400 && passed == nil, "\(first.0), \(second.0) \(target): \(code) \(text(response))")
                #expect(text(response).contains("2 Authorization headers"), "\(text(response))")
                #expect(await layer.authorization.caller(of: HTTPRequest(method: "GET", target: target, headers: request.headers)) == nil)
            }
        }
    }

    @Test func withoutAuthEverythingPasses() async throws {
        let open = try accessControl(auth: false)
        #expect(open.authorization.isOpen)
        #expect(try await status(open, request("DELETE", "/remove")).0 == 299)
        #expect(await open.authorization.caller(of: HTTPRequest(method: "POST", target: "/join"))?.username == nil)
    }
}

/// The bytes of a response built in memory, as text.
private func text(_ response: HTTPResponse) -> String {
    guard case .bytes(let bytes) = response.body.storage else { return "" }
    return String(decoding: bytes, as: UTF8.self)
}
