import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Testing

/// The node's API answers requests whose target is in absolute form (`POST
/// http://127.0.0.1:4001/events HTTP/1.1`), which a server must accept (RFC 9112 §3.2.2), as it
/// answers their path and query: it routed the whole URL, so every such request was a 404
/// "no endpoint http://…". A target that is not an http(s) URL with a valid `host[:port]` is a
/// JSON 400 naming what is wrong.
@Suite struct AbsoluteFormTargetTests {
    /// The status line, the head and the body of the answer to `request`, sent as it is on a new
    /// connection (read until the server closes it: each request asks it to).
    static func exchange(_ request: String, port: UInt16) async throws -> (head: String, body: String) {
        let answer = try await ProtocolErrorJSONTests.exchange(request, port: port)
        let parts = answer.split(separator: "\r\n\r\n", maxSplits: 1, omittingEmptySubsequences: false)
        return (parts.first.map(String.init) ?? "", parts.count > 1 ? String(parts[1]) : "")
    }

    @Test func absoluteFormTargetsAreRoutedByTheirPathAndBadOnesAreJSON400s() async throws {
        let setup = try TestNodeSetup(id: "af1", prefix: "disco-absolute-form")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        try await waitUntil("af1 to lead", timeout: .seconds(120)) { running.node.consensus.status.isLeader }
        let authority = "127.0.0.1:\(setup.httpPort)"

        let body = #"{"deploy":"absolute"}"#
        let append = try await Self.exchange(
            "POST http://\(authority)/events HTTP/1.1\r\nHost: elsewhere.example\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)", port: setup.httpPort)
        #expect(append.head.hasPrefix("HTTP/1.1 2"), "\(append.head)\n\(append.body)")
        let events = running.node.store.events(since: 0, limit: 100).events.map { String(decoding: $0.data, as: UTF8.self) }
        #expect(events.contains(body), "\(events)")

        let status = try await Self.exchange("GET HTTP://\(authority)/status HTTP/1.1\r\nHost: \(authority)\r\nConnection: close\r\n\r\n",
                                             port: setup.httpPort)
        #expect(status.head.hasPrefix("HTTP/1.1 200 "), "\(status.head)\n\(status.body)")
        #expect((try? JSONValue.parse(Array(status.body.utf8)))?["node"]?["id"]?.stringValue == "af1", "\(status.body)")

        let refusals: [(request: String, words: String)] = [
            ("GET ftp://\(authority)/status HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n", "scheme 'ftp' is not supported"),
            ("GET http://admin:pw@\(authority)/status HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n", "userinfo"),
            ("GET http://127.0.0.1:4001:1/status HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n", "expected a number from 0 to 65535"),
        ]
        for item in refusals {
            let answer = try await Self.exchange(item.request, port: setup.httpPort)
            #expect(answer.head.hasPrefix("HTTP/1.1 400 "), "\(item.request.debugDescription): \(answer.head)")
            #expect(answer.head.lowercased().contains("content-type: application/json"), "\(answer.head)")
            let error = (try? JSONValue.parse(Array(answer.body.utf8)))?["error"]?.stringValue ?? ""
            #expect(error.contains(item.words), "\(item.request.debugDescription): \(answer.body)")
        }
        #expect(await running.stop() == nil)
    }
}
