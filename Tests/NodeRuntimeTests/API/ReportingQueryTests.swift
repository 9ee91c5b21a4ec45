import Bootstrap
import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Testing

/// `GET /status`, `GET /leader`, `GET /metrics` and `POST /join` ignored any query: a typo such
/// as `/status?key=bootstrp` answered the whole status, `/status?pretty` was not indented, and
/// `/metrics?format=json` answered the text format as if asked for it. They take rqlite's
/// parameters on those paths (`pretty` and `key=` on `/status`, `pretty` on `/leader`; none on
/// `/join`, whose joiners send none) and refuse anything else with a 400 naming it, as
/// `GET /nodes` and `GET /events` do.
@Suite struct ReportingQueryTests {
    static func error(of answer: HTTPClientResponse) -> String {
        (try? JSONValue.parse(answer.body))?["error"]?.stringValue ?? ""
    }

    /// Each path of `refused` is answered 400 with an error holding its message.
    static func expectRefused(_ refused: [(String, String)],
                              _ get: (String) async throws -> HTTPClientResponse) async throws {
        for (path, message) in refused {
            let answer = try await get(path)
            #expect(answer.status == 400, "\(path): \(answer.bodyText.prefix(200))")
            #expect(error(of: answer).contains(message), "\(path): \(answer.bodyText.prefix(200))")
        }
    }

    static func startLeader(_ id: NodeID, prefix: String) async throws -> (TestNodeSetup, RunningNode) {
        let setup = try TestNodeSetup(id: id, prefix: prefix)
        let running = try await RunningNode.start(setup.configuration)
        try await waitUntil("\(id) to lead", timeout: .seconds(120)) { running.node.consensus.status.isLeader }
        return (setup, running)
    }

    @Test func statusTakesPrettyAndKeyAndRefusesTheRest() async throws {
        let (setup, running) = try await Self.startLeader("rq1", prefix: "disco-status-params")
        defer { setup.removeDirectory() }
        let client = HTTPClient()
        func get(_ path: String) async throws -> HTTPClientResponse { try await client.send(HTTPClientRequest(url: setup.apiURL + path)) }

        let plain = try await get("/status")
        #expect(plain.status == 200 && !plain.bodyText.contains("\n    "), "\(plain.bodyText)")
        for path in ["/status?pretty", "/status?pretty=true", "/status?"] {
            let answer = try await get(path)
            #expect(answer.status == 200, "\(path): \(answer.bodyText)")
            #expect(try JSONValue.parse(answer.body)["node"]?["id"]?.stringValue == "rq1", "\(path): \(answer.bodyText)")
        }
        #expect(try await get("/status?pretty").bodyText.hasPrefix("{\n    \"node\": {\n        \"id\": \"rq1\","))
        let node = try await get("/status?key=node")
        #expect(node.status == 200, "\(node.bodyText)")
        #expect(try JSONValue.parse(node.body)["id"]?.stringValue == "rq1", "\(node.bodyText)")
        let id = try await get("/status?key=node.id&pretty")
        #expect(id.status == 200 && id.bodyText == "\"rq1\"\n", "\(id.bodyText)")
        let epoch = try await get("/status?key=cluster.epoch")
        #expect(epoch.status == 200, "\(epoch.bodyText)")

        let refused: [(String, String)] = [
            ("/status?verbose", #"GET /status has no parameter "verbose"; it takes pretty=, key="#),
            ("/status?pretty=yes", #"GET /status: pretty="yes" is not a valid value; use pretty alone"#),
            ("/status?key=bootstrp", #"GET /status: key="bootstrp" names nothing: the answer has no member "bootstrp"; its members are node, leader"#),
            ("/status?key=node.id.x", #"GET /status: key="node.id.x" names nothing: node.id is not an object"#),
            ("/status?key=node..id", #"GET /status: key="node..id" is not a valid value; use a member's name or a dot-separated path"#),
            ("/status?key=", #"GET /status: key="" is not a valid value"#),
            ("/status?key=node&key=leader", "GET /status: key= is given twice; give it once"),
        ]
        try await Self.expectRefused(refused, get)
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    @Test func leaderTakesPrettyAndRefusesTheRest() async throws {
        let (setup, running) = try await Self.startLeader("rq2", prefix: "disco-leader-params")
        defer { setup.removeDirectory() }
        let client = HTTPClient()
        func get(_ path: String) async throws -> HTTPClientResponse { try await client.send(HTTPClientRequest(url: setup.apiURL + path)) }

        for path in ["/leader", "/leader?pretty", "/leader?pretty=0", "/leader?"] {
            let answer = try await get(path)
            #expect(answer.status == 200, "\(path): \(answer.bodyText)")
            #expect(try JSONValue.parse(answer.body)["id"]?.stringValue == "rq2", "\(path): \(answer.bodyText)")
        }
        #expect(try await get("/leader?pretty").bodyText.hasPrefix("{\n    \"id\": \"rq2\",\n    \"api_addr\": "))
        let refused: [(String, String)] = [
            ("/leader?id=rq2", #"GET /leader has no parameter "id"; it takes pretty="#),
            ("/leader?pretty=2", #"GET /leader: pretty="2" is not a valid value"#),
            ("/leader?pretty&pretty", "GET /leader: pretty= is given twice; give it once"),
        ]
        try await Self.expectRefused(refused, get)
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    @Test func metricsTakeNoQuery() async throws {
        let (setup, running) = try await Self.startLeader("rq3", prefix: "disco-metrics-params")
        defer { setup.removeDirectory() }
        let client = HTTPClient()
        func get(_ path: String) async throws -> HTTPClientResponse { try await client.send(HTTPClientRequest(url: setup.apiURL + path)) }

        // As Prometheus scrapes it: no query (a bare '?' is none).
        for path in ["/metrics", "/metrics?"] {
            let answer = try await get(path)
            #expect(answer.status == 200 && answer.bodyText.contains("disco_raft_is_leader 1"), "\(path): \(answer.bodyText.prefix(200))")
        }
        let refused: [(String, String)] = [
            ("/metrics?format=json", #"GET /metrics takes no query (got "format"); it answers every metric in the Prometheus text format 0.0.4"#),
            ("/metrics?name%5B%5D=disco_raft_term", #"GET /metrics takes no query (got "name[]")"#),
        ]
        try await Self.expectRefused(refused, get)
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    /// The routes between nodes take what their clients send and nothing else: `/bootstrap/status`
    /// `proposer=` and `sequence=`, the others no query. An unknown parameter was ignored.
    @Test func nodeToNodeRoutesTakeWhatTheirClientsSend() async throws {
        let (setup, running) = try await Self.startLeader("rq5", prefix: "disco-internal-params")
        defer { setup.removeDirectory() }
        let client = HTTPClient()
        func send(_ method: String, _ path: String) async throws -> HTTPClientResponse {
            try await client.send(HTTPClientRequest(method: method, url: setup.apiURL + path, body: method == "POST" ? Array("{}".utf8) : []))
        }
        let index = try await send("GET", "/kv/read-index")
        #expect(index.status == 200 && index.bodyText.contains(#""index":"#), "\(index.bodyText)")
        let status = try await send("GET", "/bootstrap/status?" + BootstrapWire.statusQuery(ProposalID(proposer: "rq5", sequence: 1)))
        #expect(status.status == 200, "\(status.bodyText)")
        let refused: [(String, String, String)] = [
            ("GET", "/kv/read-index?wait=1s", #"GET /kv/read-index takes no query (got "wait")"#),
            ("POST", "/kv/txn?namespace=dns", #"POST /kv/txn takes no query (got "namespace")"#),
            ("POST", "/notify?expect=3", #"POST /notify takes no query (got "expect")"#),
            ("POST", "/bootstrap/propose?x", #"POST /bootstrap/propose takes no query (got "x")"#),
            ("POST", "/bootstrap/abandon?x", #"POST /bootstrap/abandon takes no query (got "x")"#),
            ("GET", "/bootstrap/status?proposer=rq5&sequence=1&cluster=disco",
             #"GET /bootstrap/status has no parameter "cluster"; it takes proposer=, sequence="#),
        ]
        for (method, path, message) in refused {
            let answer = try await send(method, path)
            #expect(answer.status == 400, "\(method) \(path): \(answer.bodyText)")
            #expect(Self.error(of: answer).contains(message), "\(method) \(path): \(answer.bodyText)")
        }
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    @Test func joinTakesNoQuery() async throws {
        let (setup, running) = try await Self.startLeader("rq4", prefix: "disco-join-params")
        defer { setup.removeDirectory() }
        let client = HTTPClient()
        let ghost = BootstrapPeer(id: "rq4-ghost", raftAddress: "127.0.0.1:1", apiAddress: "127.0.0.1:2", voter: false)
        let request = JoinRequest(node: ghost, cluster: setup.configuration.cluster.name)

        let queried = try await client.send(HTTPClientRequest(method: "POST", url: setup.apiURL + "/join?voter=true",
                                                              body: BootstrapWire.encode(request)))
        #expect(queried.status == 400, "\(queried.bodyText)")
        #expect(Self.error(of: queried).contains(#"POST /join takes no query (got "voter"); the body describes the joining node"#),
                "\(queried.bodyText)")
        #expect(!running.node.consensus.status.members.contains("rq4-ghost"))

        // The join as every joiner sends it (no query) still adds the node.
        let target = PeerAddress(host: "127.0.0.1", port: setup.httpPort)
        switch await BootstrapClient(http: client).join(target: target, request: request, timeout: .seconds(60)) {
        case .success(let accepted): #expect(accepted.leader.id == "rq4")
        case .failure(let error): Issue.record("the join without a query failed: \(error)")
        }
        #expect(running.node.consensus.status.members.contains("rq4-ghost"))
        #expect(await running.stop() == nil)
        await client.shutdown()
    }
}
