import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Synchronization
import Testing

// MARK: - What a client saw

/// One response as compared between the two paths: status, fields without `Date`, body.
struct SeenResponse: Equatable, CustomStringConvertible {
    var status: Int
    var fields: [String]
    var body: [UInt8]
    var closed = false

    init(_ response: RawResponse) {
        status = response.status
        fields = response.headers.filter { $0.name.lowercased() != "date" }.map { "\($0.name): \($0.value)" }
        body = response.body
    }

    var description: String { "\(status) \(fields) body=\(body.count)\(closed ? " (closed)" : "")" }
}

/// A request as raw bytes, and whether it is a HEAD (its response has no body).
struct LaneRequest: Sendable {
    var text: String
    var isHead: Bool { text.hasPrefix("HEAD ") }

    init(_ method: String, _ target: String, _ fields: [String] = [], body: String? = nil) {
        var lines = ["\(method) \(target) HTTP/1.1", "Host: svc.test"] + fields
        if let body { lines.append("Content-Length: \(body.utf8.count)") }
        text = lines.joined(separator: "\r\n") + "\r\n\r\n" + (body ?? "")
    }
}

// MARK: - Tests

@Suite("Sidecar proxy: the inline lane answers as the middleware path does", .timeLimit(.minutes(3)))
struct InlineLaneDifferentialTests {
    /// Requests sent in order on one keep-alive connection; the first leaves an idle upstream
    /// connection so the lane takes the requests after it.
    static let requests: [LaneRequest] = [
        LaneRequest("GET", "/warm"),
        LaneRequest("GET", "/plain?x=1"),
        LaneRequest("GET", "/plain", ["X-Forwarded-For: 10.0.0.1", "x-forwarded-for: 10.0.0.2, 10.0.0.3"]),
        LaneRequest("GET", "/plain", ["Forwarded: for=192.0.2.1;proto=https", "X-Forwarded-Proto: https", "X-Forwarded-Host: elsewhere.test"]),
        LaneRequest("GET", "/plain", ["Connection: keep-alive, X-Drop-Me", "X-Drop-Me: 1", "X-Keep: 2"]),
        LaneRequest("DELETE", "/plain/3", ["Authorization: Bearer abc", "App_Key: secret", "app_id: app1", "Cookie: c=1"]),
        LaneRequest("OPTIONS", "/plain"),
        LaneRequest("OPTIONS", "*"),
        LaneRequest("GET", "/plain", ["Keep-Alive: timeout=9", "TE: trailers", "Proxy-Authorization: Basic eDp5", "Trailer: X-T",
                                      "Proxy-Connection: keep-alive"]),
        LaneRequest("GET", "/plain", ["X-" + String(repeating: "Long-Name-", count: 30) + "End: " + String(repeating: "v", count: 2000)]),
        LaneRequest("GET", "/plain", ["Disco-Sidecar-Hop: n9"]),
        LaneRequest("POST", "/plain"),
        LaneRequest("POST", "/plain", body: "with a body"),
        LaneRequest("HEAD", "/plain"),
        LaneRequest("HEAD", "/large"),
        LaneRequest("HEAD", "/chunked"),
        LaneRequest("GET", "/204"),
        LaneRequest("GET", "/304", ["If-None-Match: \"v1\""]),
        LaneRequest("GET", "/chunked"),
        LaneRequest("GET", "/large"),
        LaneRequest("GET", "/close"),
        LaneRequest("GET", "/plain?after-close"),
        LaneRequest("GET", "/plain?again"),
        LaneRequest("DELETE", "/close"),
        LaneRequest("GET", "/eof"),
        LaneRequest("HEAD", "/eof"),
        LaneRequest("GET", "/plain?after-eof"),
        LaneRequest("HEAD", "/close"),
        LaneRequest("GET", "/.sidecar/unknown"),
        LaneRequest("GET", "/plain", ["CONNECTION: X-Upper", "x-upper: gone", "X-Dup: 1", "X-Dup: 2"]),
    ]

    /// Sends `requests` through a proxy with the lane on or off: what the upstream received and
    /// what the client saw, one request at a time and then all in one write (pipelined).
    private func run(lane: Bool, views: Bool = true, upstream: ShapedUpstream, configure: (inout ProxyConfiguration) throws -> Void = { _ in })
        async throws -> Run {
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.inlineLane = lane
        configuration.inlineHeadViews = views
        try configure(&configuration)
        return try await withProxy(configuration) { proxy in
            let address = try #require(proxy.localAddress)
            var responses: [SeenResponse] = []
            let client = try RawSocketClient(connectTo: address)
            for request in Self.requests {
                try client.send(request.text)
                responses.append(SeenResponse(try await client.readResponse(headRequest: request.isHead)))
            }
            let pipelined = try RawSocketClient(connectTo: address)
            try pipelined.send(Self.requests.map(\.text).joined())
            for request in Self.requests {
                responses.append(SeenResponse(try await pipelined.readResponse(headRequest: request.isHead)))
            }
            let statuses = Set(responses.map(\.status))
            let metrics = Dictionary(uniqueKeysWithValues: statuses.map { ($0, proxy.metrics.requests(status: $0)) })
            return (upstream.take(), responses, metrics, proxy.metrics.headViewRequests)
        }
    }

    private typealias Run = (heads: [ShapedUpstream.Head], responses: [SeenResponse], metrics: [Int: Int], viewed: Int)

    /// Expects the lane's run to match the old path's, request by request.
    private func expectSame(_ lane: Run, _ old: Run) {
        #expect(lane.heads.count == old.heads.count, "the upstream received \(lane.heads.count) requests through the lane, \(old.heads.count) without")
        for (index, (viaLane, viaOld)) in zip(lane.heads, old.heads).enumerated() {
            #expect(viaLane == viaOld, "upstream request #\(index):\n lane: \(viaLane)\n  old: \(viaOld)")
        }
        #expect(lane.responses.count == old.responses.count)
        for (index, (viaLane, viaOld)) in zip(lane.responses, old.responses).enumerated() {
            #expect(viaLane == viaOld, "response #\(index):\n lane: \(viaLane)\n  old: \(viaOld)")
        }
        #expect(lane.metrics == old.metrics, "requests by status: lane \(lane.metrics), old \(old.metrics)")
    }

    @Test func upstreamAndClientSeeTheSameThroughEitherPath() async throws {
        let upstream = try await ShapedUpstream.start()
        let old = try await run(lane: false, upstream: upstream)
        let parsedOnly = try await run(lane: true, views: false, upstream: upstream)
        let lane = try await run(lane: true, upstream: upstream)
        await upstream.stop()
        expectSame(parsedOnly, old)
        expectSame(lane, old)
        // Heads taken in place are among them (the plain ones), and only with views on.
        #expect(lane.viewed >= 2 * 8, "requests sent from their head in place: \(lane.viewed)")
        #expect(old.viewed == 0 && parsedOnly.viewed == 0)

        // The comparison means something only if the requests did what they were meant to.
        let heads = lane.heads
        let plain = try #require(heads.first { $0.target == "/plain" && $0.fields.contains { $0.name.lowercased() == "x-keep" } })
        #expect(!plain.fields.contains { $0.name.lowercased() == "x-drop-me" })
        let forwardedFor = try #require(heads.first { $0.fields.contains { $0.value.contains("10.0.0.2") } })
        #expect(forwardedFor.fields.filter { $0.name == "X-Forwarded-For" }.map(\.value) == ["10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1"])
        let credentials = try #require(heads.first { $0.method == "DELETE" && $0.target == "/plain/3" })
        #expect(!credentials.fields.contains { ["app_key", "app_id"].contains($0.name.lowercased()) }, "\(credentials)")
        #expect(lane.responses.contains { $0.status == 204 } && lane.responses.contains { $0.status == 304 })
        let large = try #require(lane.responses.first { $0.fields.contains("X-Shape: large") && !$0.body.isEmpty })
        #expect(large.body == ShapedUpstream.largeBody)
        #expect(lane.responses.allSatisfy { !$0.fields.contains { $0.lowercased().hasPrefix("x-resp-secret") } }, "\(lane.responses)")
        #expect((lane.metrics[200] ?? 0) > 2 * 15, "lane requests are counted: \(lane.metrics)")
    }

    /// With API keys and a rate limit that lets everything through, the lane still takes reads
    /// (after the limiter's decision) and leaves writes that need a key to the middleware.
    @Test func withAPIKeysAndARateLimitBothPathsAnswerTheSame() async throws {
        let upstream = try await ShapedUpstream.start()
        let configure = { (configuration: inout ProxyConfiguration) in
            configuration.apiKeys = APIKeySettings(enabled: true)
            configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("rate=1000r/s burst=1000 nodelay")])
        }
        let old = try await run(lane: false, upstream: upstream, configure: configure)
        let parsedOnly = try await run(lane: true, views: false, upstream: upstream, configure: configure)
        let lane = try await run(lane: true, upstream: upstream, configure: configure)
        await upstream.stop()
        expectSame(parsedOnly, old)
        expectSame(lane, old)
        #expect(lane.viewed > 0, "reads are sent from their head in place with a rate limit keyed by address")
        #expect(lane.responses.contains { $0.status == 401 }, "writes without a key are refused")
        #expect(lane.responses.contains { $0.status == 403 }, "a key the store does not know is refused")
    }

    /// Requests from several clients at once, each on its own keep-alive connection: both paths
    /// forward every one exactly once and answer each client its own.
    @Test func concurrentKeepAliveClientsGetTheirOwnAnswers() async throws {
        let upstream = try await ShapedUpstream.start()
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.inlineLane = true
        try await withProxy(configuration) { proxy in
            let address = try #require(proxy.localAddress)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for clientIndex in 0..<6 {
                    group.addTask {
                        let client = try RawSocketClient(connectTo: address)
                        for round in 0..<20 {
                            try await client.sendAsync(Array("GET /plain?c=\(clientIndex)&r=\(round) HTTP/1.1\r\nHost: svc.test\r\n\r\n".utf8))
                            let response = try await client.readResponse()
                            #expect(response.bodyText == "plain GET /plain", "\(response)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let targets = upstream.take().map(\.target)
            #expect(targets.count == 6 * 20)
            #expect(Set(targets).count == 6 * 20, "a request was forwarded twice or lost")
            #expect(proxy.metrics.requests(status: 200) == 6 * 20)
        }
        await upstream.stop()
    }

    // MARK: Rate limits

    /// Statuses and bodies, in order, of `count` requests sent one after another on one
    /// connection, with the rate-limit decisions and request counts (by status) in the metrics.
    private func sequentialStatuses(lane: Bool, limit: String, count: Int) async throws -> (statuses: [Int], bodies: [String], decisions: [String: Int]) {
        let upstream = try await ShapedUpstream.start()
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.inlineLane = lane
        configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse(limit)])
        let result = try await withProxy(configuration) { proxy in
            let client = try RawSocketClient(connectTo: try #require(proxy.localAddress))
            var statuses: [Int] = []
            var bodies: [String] = []
            for index in 0..<count {
                try client.send("GET /plain?n=\(index) HTTP/1.1\r\nHost: svc.test\r\n\r\n")
                let response = try await client.readResponse()
                statuses.append(response.status)
                bodies.append(response.bodyText)
            }
            var decisions = Dictionary(uniqueKeysWithValues: ["passed", "delayed", "rejected"].map { ($0, proxy.metrics.rateLimitDecisions($0)) })
            for status in Set(statuses) { decisions["requests \(status)"] = proxy.metrics.requests(status: status) }
            #expect(upstream.take().count == statuses.filter { $0 == 200 }.count, "rejected requests never reach the upstream")
            return (statuses, bodies, decisions)
        }
        await upstream.stop()
        return result
    }

    @Test func nodelayLimitsDecideTheSameThroughEitherPath() async throws {
        let limit = "rate=1r/m burst=2 nodelay status=429 zone=per_client"
        let old = try await sequentialStatuses(lane: false, limit: limit, count: 6)
        let lane = try await sequentialStatuses(lane: true, limit: limit, count: 6)
        #expect(old.statuses == [200, 200, 200, 429, 429, 429])
        #expect(lane.statuses == old.statuses)
        #expect(lane.bodies == old.bodies)
        #expect(lane.decisions == old.decisions, "lane \(lane.decisions), old \(old.decisions)")
    }

    /// Requests on separate connections, sent at once, against a delaying limit: the same
    /// number passed at once, delayed and rejected through both paths.
    private func concurrentDecisions(lane: Bool) async throws -> (statuses: [Int: Int], decisions: [String: Int], slowest: Duration) {
        let upstream = try await ShapedUpstream.start()
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.inlineLane = lane
        configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("rate=1r/s burst=2 delay=1 zone=per_client")])
        let result = try await withProxy(configuration) { proxy in
            let address = try #require(proxy.localAddress)
            let clients = try (0..<5).map { _ in try RawSocketClient(connectTo: address) }
            let started = ContinuousClock.now
            for (index, client) in clients.enumerated() {
                try client.send("GET /plain?n=\(index) HTTP/1.1\r\nHost: svc.test\r\n\r\n")
            }
            var statuses: [Int: Int] = [:]
            var slowest = Duration.zero
            for client in clients {
                let status = try await client.readResponse().status
                statuses[status, default: 0] += 1
                if status == 200 { slowest = max(slowest, ContinuousClock.now - started) }
            }
            let decisions = Dictionary(uniqueKeysWithValues: ["passed", "delayed", "rejected"].map { ($0, proxy.metrics.rateLimitDecisions($0)) })
            return (statuses, decisions, slowest)
        }
        await upstream.stop()
        return result
    }

    @Test func delayingLimitsDecideTheSameThroughEitherPath() async throws {
        let old = try await concurrentDecisions(lane: false)
        let lane = try await concurrentDecisions(lane: true)
        // Within a second: one passes, one more within `delay=1` at once, one is delayed
        // within the burst, the last two are beyond it.
        #expect(old.statuses == [200: 3, 503: 2], "\(old)")
        #expect(lane.statuses == old.statuses)
        #expect(lane.decisions == old.decisions, "lane \(lane.decisions), old \(old.decisions)")
        #expect((lane.decisions["delayed"] ?? 0) >= 1)
        // The delayed request is held (about a second at 1r/s; a lower bound only, which a
        // slow machine can only make longer), not forwarded at once.
        #expect(old.slowest >= .milliseconds(300), "\(old.slowest)")
        #expect(lane.slowest >= .milliseconds(300), "the lane forwarded a delayed request after \(lane.slowest)")
    }
}
