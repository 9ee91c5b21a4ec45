import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Event log retention on a real cluster

extension NodeProcessTests {
    @Suite struct EventRetention {
        /// With `-events-retain 5`, the leader trims the log to the five newest events on every
        /// node; a reader that missed trimmed events gets 410 naming where to resume; a reader
        /// starting afresh gets the retained events; the trimmed log survives a full restart.
        @Test(arguments: DiscodEngine.allCases) func leaderTrimsToTheRetentionAndReadersAreToldWhatTheyMissed(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("retain", engine: engine) { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                let flags = NodeTests.seedFlags(expect: 3, join: ports) + ["-events-retain", "5"]
                let nodes = try ports.enumerated().map { index, pair in try cluster.start(id: "\(index + 1)", ports: pair, flags: flags) }
                try await DiscodCluster.waitForLeader(nodes)
                let events = NodeTests.events("retain", 1...12)
                for event in events { try await NodeTests.append(event, via: nodes[0], others: nodes) }
                let kept = Array(events.suffix(5))
                try await NodeTests.waitForEvents(kept, on: nodes)

                for node in nodes {
                    let page = try await firstAnswer("GET /events?since=0 on node \(node.nodeID)") { try await node.request("GET", "/events?since=0") }
                    #expect(page.status == 200, "node \(node.nodeID): \(page.text)")
                    #expect(page.json?["first_seq"] == 8, "node \(node.nodeID): \(page.text)")
                    #expect(page.json?["last_seq"] == 12, "node \(node.nodeID): \(page.text)")
                    #expect(page.json?["events"]?.arrayValue?.first?["seq"] == 8, "node \(node.nodeID): \(page.text)")

                    let resumed = try await firstAnswer("GET /events?since=7 on node \(node.nodeID)") { try await node.request("GET", "/events?since=7") }
                    #expect(resumed.json?["events"]?.arrayValue?.count == 5, "node \(node.nodeID): \(resumed.text)")

                    let missed = try await node.request("GET", "/events?since=3&wait=30s", timeout: .seconds(40))
                    #expect(missed.status == 410, "node \(node.nodeID): \(missed.status) \(missed.text)")
                    #expect(missed.json?["first_seq"] == 8, "node \(node.nodeID): \(missed.text)")
                    let message = missed.json?["error"]?.stringValue ?? ""
                    #expect(message.contains("events 4...7 were trimmed") && message.contains("since=7"), "node \(node.nodeID): \(missed.text)")

                    let status = try await node.status()
                    #expect(status["events"]?["retained"] == 5, "node \(node.nodeID): \(status.encoded())")
                    #expect(status["events"]?["first_seq"] == 8, "node \(node.nodeID): \(status.encoded())")
                }

                // The trimmed log, with its sequence numbers, survives a full restart.
                for node in nodes {
                    let status = await node.terminate()
                    #expect(status == 0, "node \(node.nodeID) exit \(String(describing: status)):\n\(node.process.output.suffix(3000))")
                }
                let again = try nodes.map { try cluster.restart($0) }
                try await DiscodCluster.waitForLeader(again)
                try await NodeTests.waitForEvents(kept, on: again)
                let next = try await NodeTests.append(#"{"test":"retain","n":"after"}"#, via: again[1], others: again)
                #expect(next == 13)
            }
        }
    }
}
