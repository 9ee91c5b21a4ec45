import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - The HTTP API against a real cluster

extension NodeProcessTests {
    @Suite struct API {
        /// A long poll on one node returns when an event is appended through another; bad
        /// inputs answer 400 naming the parameter; unknown paths 404; another cluster name 409.
        @Test(arguments: DiscodEngine.allCases) func longPollAndErrorAnswers(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("api", engine: engine) { cluster in
                let (nodes, _, _) = try await NodeTests.formedSeedCluster(cluster)
                let first = #"{"test":"api","n":1}"#
                let seq = try await NodeTests.append(first, via: nodes[0], others: nodes)
                try await NodeTests.waitForEvents([first], on: nodes)

                let second = #"{"test":"api","n":2}"#
                async let polled = nodes[1].request("GET", "/events?since=\(seq)&wait=10s", timeout: .seconds(30))
                try await NodeTests.append(second, via: nodes[2], others: nodes)
                let answer = try await polled
                #expect(answer.status == 200, "\(answer.status) \(answer.text)")
                let events = answer.json?["events"]?.arrayValue ?? []
                #expect(events.compactMap { $0["data"]?.encoded() } == [second], "long poll answered \(answer.text)")
                #expect(events.first?["seq"]?.numberValue?.uint64Value == seq + 1)
                #expect(answer.json?["last_seq"]?.numberValue?.uint64Value == seq + 1)

                let node = nodes[1]
                for (query, parameter) in [("since=abc", "since"), ("since=-1", "since"), ("limit=0", "limit"),
                                           ("limit=1001", "limit"), ("wait=soon", "wait"), ("wait=61s", "wait")] {
                    let bad = try await firstAnswer("GET /events on node \(node.nodeID)") { try await node.request("GET", "/events?\(query)") }
                    #expect(bad.status == 400, "\(query): \(bad.status) \(bad.text)")
                    let message = bad.json?["error"]?.stringValue ?? ""
                    #expect(message.contains(parameter), "\(query): the error should name \(parameter): \(bad.text)")
                }

                let invalid = try await node.request("POST", "/events", body: #"{"unterminated": "#)
                #expect(invalid.status == 400, "\(invalid.status) \(invalid.text)")
                #expect(invalid.json?["error"]?.stringValue?.contains("JSON") == true, "\(invalid.text)")
                // Numbers follow I-JSON (RFC 7493): the refusal names the position and the range.
                for (body, column, range) in [(#"{"n": 1e999999}"#, 7, "finite doubles"),
                                              ("[9007199254740993]", 2, "integers from -9007199254740991 to 9007199254740991")] {
                    let refused = try await node.request("POST", "/events", body: body)
                    let message = refused.json?["error"]?.stringValue ?? ""
                    #expect(refused.status == 400, "\(body): \(refused.status) \(refused.text)")
                    #expect(message.contains("at line 1, column \(column)") && message.contains(range), "\(body): \(refused.text)")
                }
                #expect(try await node.eventData() == [first, second], "a refused event was appended")

                let unknown = try await firstAnswer("GET /no/such/path on node \(node.nodeID)") { try await node.request("GET", "/no/such/path") }
                #expect(unknown.status == 404, "\(unknown.status) \(unknown.text)")
                #expect(unknown.json?["error"]?.stringValue?.contains("/no/such/path") == true, "\(unknown.text)")

                let join = #"{"id":"9","addr":"127.0.0.1:1","api_addr":"http://127.0.0.1:2","voter":true,"cluster":"elsewhere"}"#
                for target in nodes {
                    let refused = try await target.request("POST", "/join", body: join)
                    #expect(refused.status == 409, "node \(target.nodeID): \(refused.status) \(refused.text)")
                    let message = refused.json?["error"]?.stringValue ?? ""
                    #expect(message.contains(#""elsewhere""#) && message.contains(#""disco""#),
                            "node \(target.nodeID): the refusal should name both cluster names: \(refused.text)")
                }
                for target in nodes { #expect(try await firstAnswer("GET /nodes on node \(target.nodeID)") { await target.memberIDs() } == ["1", "2", "3"]) }
                // Without -auth the API is open, and each node says so once at start.
                for target in nodes {
                    let warnings = target.process.output.components(separatedBy: "the HTTP API is open").count - 1
                    #expect(warnings == 1, "node \(target.nodeID) logged the open-API warning \(warnings) times")
                }

                // Every answer above was counted by status (the server's counting middleware).
                let metrics = try await firstAnswer("GET /metrics on node \(node.nodeID)") { try await node.request("GET", "/metrics") }.text
                for (code, least) in [("400", 7), ("404", 1), ("409", 1), ("200", 1)] {
                    let line = metrics.split(separator: "\n").first { $0.hasPrefix("disco_http_requests_total{code=\"\(code)\"}") }
                    let count = line?.split(separator: " ").last.flatMap { Int($0) } ?? 0
                    #expect(count >= least, "code \(code) counted \(count) times; /metrics:\n\(metrics)")
                }
                // The standard process metrics, with values a live process has.
                func value(_ name: String) -> Double? {
                    metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
                }
                #expect((value("process_resident_memory_bytes") ?? 0) > 1_000_000, "\(metrics)")
                #expect((value("process_open_fds") ?? 0) > 3)
                #expect((value("process_cpu_seconds_total") ?? 0) > 0)
                #expect((value("process_start_time_seconds") ?? 0) > 1_700_000_000)
            }
        }
    }
}
