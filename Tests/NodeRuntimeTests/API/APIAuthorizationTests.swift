import DiscoAuth
import DiscoCore
import DiscoNet
@testable import NodeRuntime
import Testing

// MARK: - The authorization layer in front of the router

@Suite struct APIAuthorizationTests {
    let file = """
        [{"username":"replica","password":"r","perms":["join-read-only"]},
         {"username":"ops","password":"o","perms":["remove","status"]},
         {"username":"*","perms":["ready"]}]
        """

    func authorization() throws -> APIAuthorization {
        try APIAuthorization(auth: try AuthFile.parse(Array(file.utf8), path: "auth.json"))
    }

    func request(_ method: String, _ target: String, body: String = "", user: String? = nil, password: String = "") -> HTTPRequest {
        var headers = HTTPHeaders()
        if let user { headers.add(name: "Authorization", value: BasicCredentials(username: user, password: password).headerValue) }
        return HTTPRequest(method: method, target: target, headers: headers, body: Array(body.utf8))
    }

    /// The layer's answer, or 299 when it passed the request on.
    func status(_ layer: APIAuthorization, _ request: HTTPRequest) async -> (Int, HTTPResponse) {
        let response = await layer.respond(to: request) { _ in HTTPResponse(status: 299, bytes: []) }
        return (response.status, response)
    }

    @Test func everyEndpointHasItsPermission() {
        let expected: [(String, String, Permission)] = [
            ("POST", "/join", .join), ("POST", "/notify", .join), ("POST", "/bootstrap/propose", .join),
            ("GET", "/bootstrap/status", .join), ("DELETE", "/remove", .remove), ("POST", "/events", .eventsWrite),
            ("GET", "/events?since=3", .eventsRead), ("GET", "/status", .status), ("GET", "/nodes/", .status),
            ("GET", "/leader", .status), ("GET", "/readyz?noleader", .ready), ("HEAD", "/metrics", .metrics),
        ]
        for (method, target, permission) in expected {
            #expect(EndpointPermissions.requirement(for: request(method, target))?.primary == permission, "\(method) \(target)")
        }
        #expect(EndpointPermissions.requirement(for: request("GET", "/no/such/path")) == nil)
        #expect(EndpointPermissions.requirement(for: request("PUT", "/events")) == nil)
    }

    @Test func anonymousCallersGetOnlyTheStarPermissions() async throws {
        let layer = try authorization()
        #expect(await status(layer, request("GET", "/readyz")).0 == 299)
        let (code, response) = await status(layer, request("DELETE", "/remove", body: #"{"id":"2"}"#))
        #expect(code == 401)
        #expect(response.headers["WWW-Authenticate"] == #"Basic realm="disco""#)
        // Unknown endpoints reach the router, which answers 404 or 405 to anyone.
        #expect(await status(layer, request("GET", "/nowhere")).0 == 299)
    }

    @Test func joinReadOnlyAllowsNonVoterJoinsOnly() async throws {
        let layer = try authorization()
        let nonVoter = request("POST", "/join", body: #"{"id":"9","voter":false}"#, user: "replica", password: "r")
        #expect(await status(layer, nonVoter).0 == 299)
        let voter = request("POST", "/join", body: #"{"id":"9","voter":true}"#, user: "replica", password: "r")
        // (The process tests read the JSON bodies of these answers.)
        #expect(await status(layer, voter).0 == 403)
        #expect(await status(layer, request("DELETE", "/remove", user: "ops", password: "o")).0 == 299)
        #expect(await status(layer, request("DELETE", "/remove", user: "ops", password: "x")).0 == 401)
    }

    @Test func withoutAuthEverythingPasses() async throws {
        let open = try APIAuthorization(auth: nil)
        #expect(open.isOpen)
        #expect(await status(open, request("DELETE", "/remove")).0 == 299)
        #expect(await open.caller(of: request("POST", "/join"))?.username == nil)
    }
}
