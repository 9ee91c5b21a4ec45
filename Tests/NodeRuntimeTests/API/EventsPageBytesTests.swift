import DiscoCore
import DiscoNet
import DiscoTestKit
import NodeRuntime
import Testing

/// `GET /events` pages are bounded by bytes, not only by count: with events near the 1 MiB
/// limit, a page of 1000 could be the whole event window (hundreds of MiB) in one answer.
@Suite struct EventsPageBytesTests {
    /// 10 events of about 900 KiB for role `big`, each followed by a small event for no role.
    static func events() -> [String] {
        (1...10).flatMap { n -> [String] in
            let big = JSONValue.object(JSONObject([.init(key: "roles", value: ["big"]), .init(key: "n", value: .number(JSONNumber(n))),
                                                   .init(key: "pad", value: .string(String(repeating: "\(n % 10)", count: 900 << 10)))]))
            return [big.encoded(), #"{"small":\#(n)}"#]
        }
    }

    static func seqs(_ events: [JSONValue]) -> [UInt64] { events.compactMap { $0["seq"]?.numberValue?.uint64Value } }

    struct Page {
        let events: [JSONValue]
        let nextSince: UInt64
        let lastSeq: UInt64
        let bytes: Int
        /// The bytes of the events as encoded in the answer, commas between them included.
        var eventBytes: Int { events.reduce(-1) { $0 + 1 + $1.encoded().utf8.count } }
    }

    static func get(_ client: HTTPClient, _ url: String) async throws -> Page {
        let answer = try await client.send(HTTPClientRequest(url: url), timeout: .seconds(30))
        try #require(answer.status == 200, "\(url): \(answer.status) \(answer.bodyText.prefix(300))")
        let json = try JSONValue.parse(answer.body)
        return Page(events: try #require(json["events"]?.arrayValue), nextSince: try #require(json["next_since"]?.numberValue?.uint64Value),
                    lastSeq: try #require(json["last_seq"]?.numberValue?.uint64Value), bytes: answer.body.count)
    }

    /// Every event after 0, page by page from `next_since`, with the pages' sizes.
    static func pageThrough(_ client: HTTPClient, _ base: String) async throws -> (events: [JSONValue], pages: [Page]) {
        var (since, events, pages) = (UInt64(0), [JSONValue](), [Page]())
        while pages.count < 100 {
            let page = try await get(client, base + "&since=\(since)")
            pages.append(page)
            events += page.events
            if page.events.isEmpty || page.nextSince >= page.lastSeq { break }
            since = page.nextSince
        }
        return (events, pages)
    }

    @Test func pagesStopAtTheByteBudgetAndPagingThroughReturnsEveryEventOnce() async throws {
        let setup = try TestNodeSetup(id: "b1", prefix: "disco-events-bytes")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        try await waitUntil("b1 to lead", timeout: .seconds(120)) { running.node.keyValues(namespace: "x").revision > 0 }
        let posted = Self.events()
        for text in posted {
            _ = try await running.node.appendEvent(try JSONValue.parse(text))
        }
        let budget = EventPageBudget.standardBytes
        let big = posted[0].utf8.count

        // One page, with and without a wait: under the budget, yet the next event would not fit.
        for query in ["since=0&limit=1000", "since=0&limit=1000&wait=5s"] {
            let page = try await Self.get(client, setup.apiURL + "/events?" + query)
            #expect(page.events.count > 1 && page.events.count < posted.count, "\(query): \(page.events.count) events")
            #expect(page.eventBytes <= budget && page.bytes < budget + 200, "\(query): \(page.bytes) bytes")
            #expect(page.eventBytes + big > budget, "\(query): the page stopped early")
            #expect(page.nextSince == Self.seqs(page.events).last, "\(query)")
        }
        // Paging through gets every event once, in order, as posted.
        let all = try await Self.pageThrough(client, setup.apiURL + "/events?limit=1000")
        #expect(Self.seqs(all.events) == Array(1...UInt64(posted.count)))
        #expect(all.events.map { $0["data"]?.encoded() } == posted)
        #expect(all.pages.allSatisfy { $0.eventBytes <= budget }, "\(all.pages.map(\.bytes))")

        // The events for a role are bounded the same way; `next_since` stops before the first
        // event for the role that did not fit.
        let first = try await Self.get(client, setup.apiURL + "/events?role=big&since=0&wait=5s")
        #expect(first.events.count > 1 && first.events.count < 10 && first.eventBytes <= budget, "\(first.events.count) events")
        let lastBig = Self.seqs(first.events).last ?? 0
        #expect(first.nextSince == lastBig + 1, "\(first.nextSince)")
        let role = try await Self.pageThrough(client, setup.apiURL + "/events?role=big")
        let odd: [UInt64] = (0..<10).map { 2 * $0 + 1 }
        #expect(Self.seqs(role.events) == odd)
        let bigPosted: [String] = stride(from: 0, to: posted.count, by: 2).map { posted[$0] }
        #expect(role.events.map { $0["data"]?.encoded() } == bigPosted)
        #expect(role.pages.count > 2 && role.pages.allSatisfy { $0.eventBytes <= budget }, "\(role.pages.map(\.bytes))")

        // An event larger than what is left comes alone, on its own page.
        guard case .page(let alone) = await running.node.events(for: "big", since: 0, limit: 100, wait: .zero,
                                                                budget: EventPageBudget(maxBytes: 1000)) else {
            Issue.record("the read for big was trimmed")
            return
        }
        #expect(alone.events.map(\.seq) == [1] && alone.scannedThrough == 2)
        guard case .page(let two) = await running.node.events(for: "big", since: 2, limit: 100, wait: .zero,
                                                              budget: EventPageBudget(maxBytes: 2 * (big + 100))) else {
            Issue.record("the read for big was trimmed")
            return
        }
        #expect(two.events.map(\.seq) == [3, 5] && two.scannedThrough == 6)
        #expect(await running.stop() == nil)
        await client.shutdown()
    }
}
