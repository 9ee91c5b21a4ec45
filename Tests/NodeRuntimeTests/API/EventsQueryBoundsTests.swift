import DiscoCore
import DiscoNet
import DiscoTestKit
import NodeRuntime
import Testing

/// `GET /events` with `since=` at the top of its range: a reader ahead of the log gets an empty
/// page, never a crash.
@Suite struct EventsQueryBoundsTests {
    @Test func theLargestSinceIsAnEmptyPageNotACrash() async throws {
        #expect(!EventPage(events: [], firstSeq: 3, lastSeq: 2).missedEvents(since: UInt64.max))

        let setup = try TestNodeSetup(id: "q1", prefix: "disco-events-since")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        try await waitUntil("q1 to lead", timeout: .seconds(120)) { running.node.keyValues(namespace: "x").revision > 0 }
        let appended = try await client.send(HTTPClientRequest(method: "POST", url: setup.apiURL + "/events", body: Array(#"{"n":1}"#.utf8)))
        #expect(appended.status == 200)

        let top = String(UInt64.max)
        for query in ["since=\(top)", "since=\(top)&wait=10ms", "since=\(top)&role=dns", "since=\(top)&role=dns&wait=10ms"] {
            let answer = try await client.send(HTTPClientRequest(url: setup.apiURL + "/events?" + query))
            #expect(answer.status == 200, "\(query): \(answer.bodyText)")
            #expect(try JSONValue.parse(answer.body)["events"]?.arrayValue?.isEmpty == true, "\(query)")
        }

        // A parameter the endpoint does not take, or one given twice, is refused, not ignored
        // (`after=5` used to answer from the oldest event).
        for (path, named) in [("/events?after=5", "no parameter"), ("/events?since=1&since=50", "twice"),
                              ("/events/cursor?role=dns&consumer=c1&x=1", "it takes role=, consumer="), ("/events/cursor?role=dns&role=host&consumer=c1", "twice")] {
            let answer = try await client.send(HTTPClientRequest(url: setup.apiURL + path))
            #expect(answer.status == 400, "\(path): \(answer.bodyText)")
            #expect(answer.bodyText.contains(named), "\(path): \(answer.bodyText)")
        }
        #expect(await running.stop() == nil)
        await client.shutdown()
    }
}
