import DiscoCore
import DiscoNet
import DiscoTestKit
import NodeRuntime
import Testing

/// `DELETE /remove` (and `POST /remove`) name what is wrong with a body that is not JSON, as
/// `POST /events` does: a duplicate `"id"` was answered with the generic usage only.
@Suite struct RemoveBodyTests {
    @Test func aDuplicateKeyIsNamed() async throws {
        let setup = try TestNodeSetup(id: "rb1", prefix: "disco-remove-body")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        for method in ["DELETE", "POST"] {
            let answer = try await client.send(HTTPClientRequest(method: method, url: setup.apiURL + "/remove",
                                                                 body: Array(#"{"id":"rb1","id":"rb2"}"#.utf8)))
            #expect(answer.status == 400, "\(method): \(answer.bodyText)")
            let error = (try? JSONValue.parse(answer.body))?["error"]?.stringValue ?? ""
            #expect(error.contains(#"duplicate key "id" in object at line 1, column 13"#), "\(method): \(answer.bodyText)")
            #expect(error.contains(#"body must be {"id":"<node id>"}"#), "\(method): \(answer.bodyText)")
        }
        let notJSON = try await client.send(HTTPClientRequest(method: "DELETE", url: setup.apiURL + "/remove", body: Array("id=rb2".utf8)))
        #expect(notJSON.status == 400, "\(notJSON.bodyText)")
        #expect(await running.stop() == nil)
        await client.shutdown()
    }
}
