import DiscoCore
import DiscoNet
import DiscoTestKit
import NodeRuntime
import Testing

/// `GET /nodes` and `GET /readyz` take rqlite's parameters (and ours), and refuse a parameter
/// they do not take or a malformed value with a 400 naming it, as `GET /events` does: a typo
/// such as `?noleadr` used to be ignored, so a liveness probe asked for readiness.
@Suite struct StatusQueryTests {
    @Test func nodesAndReadyzRefuseUnknownParametersAndMalformedValues() async throws {
        let setup = try TestNodeSetup(id: "sq1", prefix: "disco-status-query")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        try await waitUntil("sq1 to be ready", timeout: .seconds(120)) {
            (try? await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz")))?.status == 200
        }

        let accepted = ["/nodes?nonvoters", "/nodes?ver=2", "/nodes?nonvoters&ver=2&timeout=5s&retries=2", "/nodes?role=dns&ver=1",
                        "/nodes?nonvoters=false", "/nodes?pretty", "/nodes?role=dns&pretty=true",
                        "/readyz?noleader", "/readyz?noleader=true", "/readyz?sync", "/readyz?sync&timeout=2s",
                        "/readyz?noleader&timeout=500ms", "/readyz?sync=1"]
        for path in accepted {
            let answer = try await client.send(HTTPClientRequest(url: setup.apiURL + path))
            #expect(answer.status == 200, "\(path): \(answer.bodyText)")
        }
        // rqlite's pretty indents the same answer.
        let pretty = try await client.send(HTTPClientRequest(url: setup.apiURL + "/nodes?pretty"))
        #expect(pretty.bodyText.hasPrefix("[\n    {\n        \"id\": \"sq1\","), "\(pretty.bodyText)")
        // A liveness answer does not require a leader but names the one it knows; `noleader=false` asks for readiness.
        let liveness = try await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz?noleader"))
        #expect(try JSONValue.parse(liveness.body)["leader"]?.stringValue == "sq1", "\(liveness.bodyText)")
        let readiness = try await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz?noleader=false"))
        #expect(try JSONValue.parse(readiness.body)["leader"]?.stringValue == "sq1", "\(readiness.bodyText)")

        let refused: [(String, String)] = [
            ("/nodes?nonvoter", #"GET /nodes has no parameter "nonvoter"; it takes role=, nonvoters=, ver=, timeout=, retries="#),
            ("/nodes?ver=3", #"GET /nodes: ver="3" is not a valid value; use ver=2 (or ver=1)"#),
            ("/nodes?timeout=5", #"GET /nodes: timeout="5" is not a valid value; use a duration above 0s"#),
            ("/nodes?timeout=-1s", #"GET /nodes: timeout="-1s" is not a valid value"#),
            ("/nodes?retries=many", #"GET /nodes: retries="many" is not a valid value; use a whole number from 0 to 100"#),
            ("/nodes?nonvoters=maybe", #"GET /nodes: nonvoters="maybe" is not a valid value; use nonvoters alone (or nonvoters=true"#),
            ("/nodes?role=dns&role=host", "GET /nodes: role= is given twice; give it once"),
            ("/nodes?pretty=indent", #"GET /nodes: pretty="indent" is not a valid value; use pretty alone"#),
            // key= is /status's alone.
            ("/nodes?key=id", #"GET /nodes has no parameter "key""#),
            ("/readyz?noleadr", #"GET /readyz has no parameter "noleadr"; it takes noleader=, sync=, timeout="#),
            ("/readyz?noleader=yes", #"GET /readyz: noleader="yes" is not a valid value; use noleader alone"#),
            ("/readyz?sync&timeout=soon", #"GET /readyz: timeout="soon" is not a valid value"#),
            ("/readyz?sync=2", #"GET /readyz: sync="2" is not a valid value"#),
            // Only a node with the hot/cold role takes `hot` (elsewhere it answered plain readiness).
            ("/readyz?hot", #"GET /readyz has no parameter "hot""#),
        ]
        for (path, message) in refused {
            let answer = try await client.send(HTTPClientRequest(url: setup.apiURL + path))
            #expect(answer.status == 400, "\(path): \(answer.bodyText)")
            let error = (try? JSONValue.parse(answer.body))?["error"]?.stringValue ?? ""
            #expect(error.contains(message), "\(path): \(answer.bodyText)")
        }
        #expect(await running.stop() == nil)
        await client.shutdown()
    }
}
