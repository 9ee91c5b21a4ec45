import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Testing

/// Endpoints that take a JSON body name what is wrong with one that is not JSON, as `POST /events`
/// does: a duplicate key was answered with the generic usage only (`/remove`, `/leader/transfer`),
/// or with "the body is not JSON" (`/events/ack`), leaving the caller to guess which key.
@Suite struct JSONBodyErrorTests {
    static func error(of answer: HTTPClientResponse) -> String {
        (try? JSONValue.parse(answer.body))?["error"]?.stringValue ?? ""
    }

    @Test func aDuplicateKeyIsNamed() async throws {
        let setup = try TestNodeSetup(id: "rb1", prefix: "disco-json-body")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        try await waitUntil("rb1 to lead", timeout: .seconds(120)) { running.node.consensus.status.isLeader }
        let client = HTTPClient()
        let cases: [(method: String, path: String, body: String, duplicate: String, usage: String)] = [
            ("DELETE", "/remove", #"{"id":"rb1","id":"rb2"}"#, #"duplicate key "id" in object at line 1, column 13"#, #"body must be {"id":"<node id>"}"#),
            ("POST", "/remove", #"{"id":"rb1","id":"rb2"}"#, #"duplicate key "id" in object at line 1, column 13"#, #"body must be {"id":"<node id>"}"#),
            ("POST", "/leader/transfer", #"{"id":"rb1","id":"rb2"}"#, #"duplicate key "id" in object at line 1, column 13"#,
             "naming the voter to lead"),
            ("POST", "/events/ack", #"{"role":"dns","consumer":"c1","seq":0,"seq":1}"#, #"duplicate key "seq""#,
             #"POST /events/ack takes {"role":"dns","consumer":"c1","seq":12}"#),
        ]
        for item in cases {
            let answer = try await client.send(HTTPClientRequest(method: item.method, url: setup.apiURL + item.path, body: Array(item.body.utf8)))
            #expect(answer.status == 400, "\(item.method) \(item.path): \(answer.bodyText)")
            #expect(Self.error(of: answer).contains(item.duplicate), "\(item.method) \(item.path): \(answer.bodyText)")
            #expect(Self.error(of: answer).contains(item.usage), "\(item.method) \(item.path): \(answer.bodyText)")
        }
        let notJSON = try await client.send(HTTPClientRequest(method: "DELETE", url: setup.apiURL + "/remove", body: Array("id=rb2".utf8)))
        #expect(notJSON.status == 400, "\(notJSON.bodyText)")
        #expect(Self.error(of: notJSON).contains("the body is not JSON"), "\(notJSON.bodyText)")
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    /// A field an endpoint does not take is refused naming it and the fields it takes: it was
    /// ignored, so `{"ID":"n3"}` (a typo) moved leadership to whichever voter came next instead
    /// of to n3, `{"id":"n3","force":true}` removed as if `force` meant something, and an
    /// acknowledgement with a misspelt field moved the cursor all the same.
    @Test func anUnknownFieldIsRefusedNamingTheFieldsTaken() async throws {
        let setup = try TestNodeSetup(id: "rb1", prefix: "disco-json-fields")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        try await waitUntil("rb1 to lead", timeout: .seconds(120)) { running.node.consensus.status.isLeader }
        let client = HTTPClient()
        let cases: [(method: String, path: String, body: String, field: String, taken: String)] = [
            ("POST", "/leader/transfer", #"{"ID":"rb1"}"#, #"unknown field "ID""#, #"it takes "id""#),
            ("POST", "/leader/transfer", #"{"id":"rb1","to":"rb2"}"#, #"unknown field "to""#, #"it takes "id""#),
            ("DELETE", "/remove", #"{"id":"rb9","force":true}"#, #"unknown field "force""#, #"it takes "id""#),
            ("POST", "/events/ack", #"{"role":"dns","consumer":"c1","seq":0,"sequence":5}"#, #"unknown field "sequence""#,
             #"it takes "role", "consumer", "seq""#),
        ]
        for item in cases {
            let answer = try await client.send(HTTPClientRequest(method: item.method, url: setup.apiURL + item.path, body: Array(item.body.utf8)))
            #expect(answer.status == 400, "\(item.method) \(item.path) \(item.body): \(answer.bodyText)")
            #expect(Self.error(of: answer).contains(item.field), "\(item.method) \(item.path): \(answer.bodyText)")
            #expect(Self.error(of: answer).contains(item.taken), "\(item.method) \(item.path): \(answer.bodyText)")
        }
        // Nothing was acknowledged.
        let cursor = try await client.send(HTTPClientRequest(method: "GET", url: setup.apiURL + "/events/cursor?role=dns&consumer=c1"))
        #expect((try? JSONValue.parse(cursor.body))?["seq"]?.numberValue?.uint64Value == 0, "\(cursor.bodyText)")
        // What the endpoints take still works.
        let ack = try await client.send(HTTPClientRequest(method: "POST", url: setup.apiURL + "/events/ack",
                                                          body: Array(#"{"role":"dns","consumer":"c1","seq":0}"#.utf8)))
        #expect(ack.status == 200, "\(ack.bodyText)")
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    /// The endpoints that take their input in the body refuse a query naming the parameter:
    /// `POST /leader/transfer?id=n3` (the target given as `/hot/move` takes its own) had no body,
    /// so leadership moved to whichever voter came next, and `POST /events?…` appended as if the
    /// parameters meant something.
    @Test func aQueryIsRefusedWhereTheBodyCarriesTheInput() async throws {
        let setup = try TestNodeSetup(id: "rb1", prefix: "disco-json-query")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        try await waitUntil("rb1 to lead", timeout: .seconds(120)) { running.node.consensus.status.isLeader }
        let client = HTTPClient()
        let cases: [(method: String, target: String, body: String, parameter: String)] = [
            ("POST", "/leader/transfer?id=rb1", "", "id"),
            ("DELETE", "/remove?id=rb9", #"{"id":"rb9"}"#, "id"),
            ("POST", "/remove?force", #"{"id":"rb9"}"#, "force"),
            ("POST", "/events?type=deploy", #"{"v":1}"#, "type"),
            ("POST", "/events/ack?seq=0", #"{"role":"dns","consumer":"c1","seq":0}"#, "seq"),
        ]
        for item in cases {
            let answer = try await client.send(HTTPClientRequest(method: item.method, url: setup.apiURL + item.target, body: Array(item.body.utf8)))
            #expect(answer.status == 400, "\(item.method) \(item.target): \(answer.status) \(answer.bodyText)")
            let error = Self.error(of: answer)
            #expect(error.contains("takes no query") && error.contains(#""\#(item.parameter)""#), "\(item.target): \(answer.bodyText)")
        }
        #expect(running.node.store.lastSeq == 0, "an event was appended")
        // Without a query (a bare '?' included) they answer as before.
        let appended = try await client.send(HTTPClientRequest(method: "POST", url: setup.apiURL + "/events?", body: Array(#"{"v":1}"#.utf8)))
        #expect(appended.status == 200, "\(appended.bodyText)")
        #expect(await running.stop() == nil)
        await client.shutdown()
    }
}
