import DiscoCore
import DiscoNet
import DiscoTestKit
import NodeRuntime
import Testing

@Suite struct EventTargetTests {
    @Test func typeAndRolesAreReadFromTheTopLevelObject() throws {
        let target = try EventTarget(event: try JSONValue.parse(#"{"type":"deploy","roles":["web","dns","web"],"x":{"roles":["db"]}}"#))
        #expect(target.type == "deploy" && target.roles == ["dns", "web"])
        #expect(target.isFor("dns") && !target.isFor("db"))
        for plain in [#"{"n":1}"#, "[1,2]", #""roles""#, "7"] {
            #expect(try EventTarget(event: try JSONValue.parse(plain)) == EventTarget(), "\(plain)")
        }
        let stored = ClusterEvent(seq: 1, index: 1, timeMillis: 0, data: Array(#"  {"roles":["dns"]}"#.utf8))
        #expect(stored.target.roles == ["dns"] && stored.target.type == nil)
        #expect(ClusterEvent(seq: 1, index: 1, timeMillis: 0, data: Array(#"["roles"]"#.utf8)).target == EventTarget())
    }

    /// `POST /events` checks and accepts `"roles"` however the key is spelt in JSON, but the
    /// stored event's bytes were only parsed when they held `"roles"` or `"type"` literally: an
    /// event whose key was written with an escape (`"r\u006fles"`, as some encoders write) was
    /// accepted for `dns` and then never delivered to it. A read sees what the post checked.
    @Test func aStoredEventIsForTheRolesItsParsedValueNames() throws {
        for text in [#"{"r\u006fles":["dns"]}"#, #"{"\u0074ype":"a","\u0072oles":["dns"]}"#, #"{"type":"a","rol\u0065s":["dns","web"]}"#] {
            let posted = try EventTarget(event: try JSONValue.parse(text))
            #expect(posted.isFor("dns"), "\(text)")
            #expect(ClusterEvent(seq: 1, index: 1, timeMillis: 0, data: Array(text.utf8)).target == posted, "\(text)")
        }
    }

    @Test func badTypesAndRolesNameTheFieldAndWhatWouldBeRight() {
        let cases: [(String, String)] = [
            (#"{"type":5}"#, #""type" must be a string"#),
            (#"{"type":""}"#, #""type" must be a string"#),
            (#"{"roles":"dns"}"#, #""roles" must be an array of role names"#),
            (#"{"roles":[1]}"#, #""roles" must hold role names"#),
            (#"{"roles":["DNS"]}"#, #"role name "DNS""#),
        ]
        for (text, message) in cases {
            do {
                _ = try EventTarget(event: try JSONValue.parse(text))
                Issue.record("\(text) was accepted")
            } catch let error as EventTargetError {
                #expect(error.message.contains(message), "\(text): \(error)")
            } catch {
                Issue.record("\(text): \(error)")
            }
        }
    }
}

/// `GET /events?role=`, `POST /events/ack`, `GET /events/cursor` on a single node.
@Suite struct EventsByRoleTests {
    static func post(_ client: HTTPClient, _ url: String, _ body: String) async throws -> (Int, JSONValue?) {
        let answer = try await client.send(HTTPClientRequest(method: "POST", url: url, body: Array(body.utf8)))
        return (answer.status, try? JSONValue.parse(answer.body))
    }

    @Test func readsFiltersByRoleAcknowledgesForwardOnlyAndRefusesBadInput() async throws {
        let setup = try TestNodeSetup(id: "e1", prefix: "disco-events-role")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        try await waitUntil("e1 to lead", timeout: .seconds(120)) { running.node.keyValues(namespace: "x").revision > 0 }
        let bodies = [#"{"type":"a","roles":["dns"]}"#, #"{"n":1}"#, #"{"type":"b","roles":["web"]}"#, #"{"type":"c","roles":["dns","web"]}"#]
        for body in bodies {
            let (status, _) = try await Self.post(client, setup.apiURL + "/events", body)
            #expect(status == 200)
        }
        let (refused, error) = try await Self.post(client, setup.apiURL + "/events", #"{"type":"x","roles":"dns"}"#)
        #expect(refused == 400)
        #expect(error?["error"]?.stringValue?.contains(#""roles" must be an array"#) == true)

        let dns = try JSONValue.parse(try await client.send(HTTPClientRequest(url: setup.apiURL + "/events?role=dns&since=0")).body)
        #expect(dns["events"]?.arrayValue?.map { $0["seq"] } == [1, 4])
        #expect(dns["events"]?.arrayValue?.first?["data"] == ["type": "a", "roles": ["dns"]])
        #expect(dns["next_since"] == 4 && dns["role"] == "dns")
        let web = try JSONValue.parse(try await client.send(HTTPClientRequest(url: setup.apiURL + "/events?role=web&since=3&limit=1")).body)
        #expect(web["events"]?.arrayValue?.map { $0["seq"] } == [4])
        let none = try JSONValue.parse(try await client.send(HTTPClientRequest(url: setup.apiURL + "/events?role=db&since=0")).body)
        #expect(none["events"]?.arrayValue?.isEmpty == true && none["next_since"] == 4)
        let badRole = try await client.send(HTTPClientRequest(url: setup.apiURL + "/events?role=Bad"))
        #expect(badRole.status == 400 && badRole.bodyText.contains("role=\\\"Bad\\\""))

        // A role's wait ends when an event for it arrives, not at events for others.
        let unrelated = Task { try await Self.post(client, setup.apiURL + "/events", #"{"type":"d","roles":["web"]}"#) }
        let waited = Task { try await client.send(HTTPClientRequest(url: setup.apiURL + "/events?role=dns&since=4&wait=30s")) }
        _ = try await unrelated.value
        _ = try await Self.post(client, setup.apiURL + "/events", #"{"type":"e","roles":["dns"]}"#)
        let arrived = try JSONValue.parse(try await waited.value.body)
        #expect(arrived["events"]?.arrayValue?.map { $0["data"]?["type"] } == ["e"])

        // Cursors: forward only, per role and consumer.
        let cursorURL = setup.apiURL + "/events/cursor?role=dns&consumer=c1"
        #expect(try JSONValue.parse(try await client.send(HTTPClientRequest(url: cursorURL)).body)["seq"] == 0)
        let (acked, ack) = try await Self.post(client, setup.apiURL + "/events/ack", #"{"role":"dns","consumer":"c1","seq":4}"#)
        #expect(acked == 200 && ack?["seq"] == 4)
        let (_, back) = try await Self.post(client, setup.apiURL + "/events/ack", #"{"role":"dns","consumer":"c1","seq":1}"#)
        #expect(back?["seq"] == 4)
        #expect(try JSONValue.parse(try await client.send(HTTPClientRequest(url: cursorURL)).body)["seq"] == 4)
        #expect(running.node.eventCursor(role: "dns", consumer: "c1") == 4)
        #expect(running.node.eventCursor(role: "web", consumer: "c1") == 0)
        #expect(running.node.eventCursor(role: "dns", consumer: "c2") == 0)

        let badAcks: [(String, String)] = [
            ("not json", "the body is not JSON"),
            (#"{"consumer":"c1","seq":1}"#, #""role" is missing"#),
            (#"{"role":"dns","seq":1}"#, #""consumer" is missing"#),
            (#"{"role":"dns","consumer":"c1","seq":-1}"#, #""seq" is missing or not a whole number"#),
            (#"{"role":"dns","consumer":"a/b","seq":1}"#, "without whitespace, control characters or '/'"),
            (#"{"role":"dns","consumer":"c1","seq":999}"#, "beyond the last event"),
        ]
        for (body, message) in badAcks {
            let (status, answer) = try await Self.post(client, setup.apiURL + "/events/ack", body)
            #expect(status == 400, "\(body)")
            #expect(answer?["error"]?.stringValue?.contains(message) == true, "\(body): \(String(describing: answer))")
        }
        #expect(await running.stop() == nil)
        await client.shutdown()
    }
}
