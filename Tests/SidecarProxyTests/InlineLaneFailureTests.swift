import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

// MARK: - Upstream failures through the lane and through the middleware path

@Suite("Sidecar proxy: upstream failures through the inline lane", .timeLimit(.minutes(3)))
struct InlineLaneFailureTests {
    /// What one run saw: the client's statuses and how often the upstream received `/drop`.
    struct Outcome: Equatable {
        var statuses: [Int]
        var dropsReceived: Int
    }

    /// Leaves `idle` pooled upstream connections (requests to `/hold`, answered once all are
    /// waiting), then sends `request` on a keep-alive client connection.
    private func run(lane: Bool, idle: Int, _ request: String) async throws -> Outcome {
        let upstream = try await ShapedUpstream.start()
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.inlineLane = lane
        let outcome = try await withProxy(configuration) { proxy in
            let address = try #require(proxy.localAddress)
            let clients = try (0..<idle).map { _ in try RawSocketClient(connectTo: address) }
            for (index, client) in clients.enumerated() { try client.send("GET /hold?i=\(index)&of=\(idle) HTTP/1.1\r\nHost: svc.test\r\n\r\n") }
            var statuses: [Int] = []
            for client in clients { statuses.append(try await client.readResponse().status) }
            #expect(statuses == Array(repeating: 200, count: idle), "the upstream connections were not all left idle")
            try clients[0].send(request)
            statuses.append(try await clients[0].readResponse().status)
            try clients[0].send("GET /plain?after HTTP/1.1\r\nHost: svc.test\r\n\r\n")
            statuses.append(try await clients[0].readResponse().status)
            return Outcome(statuses: statuses, dropsReceived: upstream.take().filter { $0.target.hasPrefix("/drop") }.count)
        }
        await upstream.stop()
        return outcome
    }

    @Test(arguments: [1, 2, 3])
    func anUpstreamThatDropsAGetIsTriedAsOftenThroughEitherPath(idle: Int) async throws {
        let request = "GET /drop HTTP/1.1\r\nHost: svc.test\r\n\r\n"
        let old = try await run(lane: false, idle: idle, request)
        let lane = try await run(lane: true, idle: idle, request)
        #expect(old.statuses.suffix(2) == [502, 200], "\(old)")
        #expect(lane == old, "with \(idle) idle upstream connections: lane \(lane), old path \(old)")
    }

    @Test(arguments: [1, 2])
    func anUpstreamThatDropsABodilessPostIsNotRetriedThroughEitherPath(idle: Int) async throws {
        let request = "POST /drop HTTP/1.1\r\nHost: svc.test\r\n\r\n"
        let old = try await run(lane: false, idle: idle, request)
        let lane = try await run(lane: true, idle: idle, request)
        #expect(old.dropsReceived == 1, "\(old)")
        #expect(lane == old, "with \(idle) idle upstream connections: lane \(lane), old path \(old)")
    }
}
