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
}
