import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
import Foundation
import HotCold
import HotColdNode
import LeaseCore
import NodeRuntime
import Testing

// MARK: - POST /hot/move's query

extension HotColdRoleTests {
    /// `POST /hot/move` reads its query as the node's own endpoints read theirs: a parameter it
    /// does not take or one given twice is a 400 naming it, and nothing is proposed. The first
    /// `to=` counted and the rest was ignored, so `?to=h1&to=h2` moved to h1, and a node ID with
    /// an unescaped `&` (`?to=h1&x`) moved to the node named by the part before it.
    @Test
    func aMoveWithAnUnknownOrRepeatedParameterIsRefused() async throws {
        let logger = Logger(label: "test", level: .warning, handler: LogfmtHandler(sink: MemoryLogSink()))
        let client = HTTPClient()
        var directories: [String] = []
        defer { for directory in directories { try? FileManager.default.removeItem(atPath: directory) } }
        try await withNodes { started, nodes in
            let members = try await startCluster(groups: [("h1", .default)], logger: logger, client: client,
                                                 started: started, directories: &directories, nodes: &nodes)
            let only = members[0]
            try await waitUntil("h1 hot", timeout: Self.timeout) { only.role.shell?.gate.fencingToken() != nil }
            let token = try #require(only.role.shell?.gate.fencingToken())
            let cases: [(query: String, words: String)] = [
                ("?to=h1&to=h2", "to= is given twice; give it once"),
                ("?to=h1&x", #"no parameter "x""#),
                ("?to=h1&force=1", #"no parameter "force""#),
                ("?target=h1", #"no parameter "target""#),
            ]
            for item in cases {
                let answer = try await client.send(HTTPClientRequest(method: "POST", url: only.url + "/hot/move" + item.query))
                let error = (try? JSONValue.parse(answer.body))?["error"]?.stringValue ?? ""
                #expect(answer.status == 400, "\(item.query): \(answer.status) \(answer.bodyText)")
                #expect(error.contains(item.words), "\(item.query): \(answer.bodyText)")
                #expect(item.words.contains("twice") || error.contains("it takes to="), "\(item.query): \(answer.bodyText)")
            }
            // GET /hot takes no query (it was ignored).
            let hot = try await client.send(HTTPClientRequest(url: only.url + "/hot?group=default"))
            #expect(hot.status == 400 && hot.bodyText.contains(#"GET /hot takes no query (got \"group\")"#), "\(hot.bodyText)")
            #expect(try await client.send(HTTPClientRequest(url: only.url + "/hot")).status == 200)
            // Nothing was proposed: no move target, the same token.
            let record = try #require(only.node.keyValue(KVKey("hot-cold", "lease/default")))
            let state = try LeaseRecord.decodeState(record.value)
            #expect(state.moveTo == nil && state.token == token, "\(state)")
        }
        await client.shutdown()
    }
}
