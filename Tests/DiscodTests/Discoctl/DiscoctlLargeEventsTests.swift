import DiscoCore
import DiscoTestKit
import Foundation
import Testing

/// `discod` answers `GET /events` in pages of at most 4 MiB of events, and `discoctl events`
/// pages through them: with events of 900 KiB, every one, once, in order.
@Suite struct DiscoctlLargeEventsTests {
    /// `EventPageBudget.standardBytes` (NodeRuntime, which this target does not link), as README states it.
    static let budget = 4 << 20

    @Test func largeEventsComeInBoundedPagesAndDiscoctlPrintsThemAll() async throws {
        let cluster = try DiscodCluster(name: "ctl-large")
        defer { Task { await cluster.shutdown() } }
        let node = try await Discoctl.startSingleNode(cluster)
        let posted = (1...10).map { n in
            JSONValue.object(JSONObject([.init(key: "roles", value: ["big"]), .init(key: "n", value: .number(JSONNumber(n))),
                                         .init(key: "pad", value: .string(String(repeating: "\(n % 10)", count: 900 << 10)))])).encoded()
        }
        for text in posted {
            let answer = try await node.request("POST", "/events", body: text, timeout: .seconds(30))
            try #require(answer.status == 200, "\(answer.status) \(answer.text.prefix(300))")
        }

        // One answer holds what fits in 4 MiB, not all ten, with and without role=.
        for query in ["since=0&limit=1000", "since=0&limit=1000&role=big"] {
            let page = try await node.request("GET", "/events?" + query, timeout: .seconds(30))
            #expect(page.status == 200, "\(query): \(page.status)")
            let count = page.json?["events"]?.arrayValue?.count ?? 0
            #expect(count >= 1 && count < posted.count && page.body.count < Self.budget + 200,
                    "\(query): \(count) events, \(page.body.count) bytes")
            #expect(page.json?["next_since"]?.numberValue?.uint64Value == UInt64(count), "\(query)")
        }

        for role in [[], ["-role", "big"]] {
            let printed = try await Discoctl.run(node, ["events", "-format", "jsonl"] + role)
            #expect(printed.status == 0, "\(printed.status) \(printed.standardError)")
            let events = Discoctl.lines(printed).compactMap { try? JSONValue.parse($0) }
            #expect(events.map { $0["seq"]?.numberValue?.uint64Value } == (1...10).map { UInt64($0) }, "\(role)")
            #expect(events.map { $0["data"]?.encoded() } == posted, "\(role)")
        }
        #expect(try await node.eventData() == posted)
    }
}
