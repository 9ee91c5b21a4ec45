import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Synchronization
import Testing

/// A shared zone keyed by a header counts whatever the client sends there, and the HTTP server
/// takes fields of several KiB. Every key a sidecar counted must reach the others: one long key
/// must not make the whole interval's counts unreadable, which would let every client of the
/// zone past the documented bound.
@Suite("Sidecar proxy: a long key does not stop a shared zone's exchange")
struct SharedZoneLongKeyTests {
    static let key = try! HopKey(bytes: Array("a secret every sidecar of the cluster shares!".utf8))

    @Test func countsWithALongKeyAreChargedAtTheOtherSidecar() async throws {
        let upstream = try await RecordingUpstream.start(name: "up")
        var configuration = proxyConfiguration([("local", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("zone=tenants key=header:x-tenant rate=1r/m shared")])
        configuration.rateLimit.shareInterval = .milliseconds(20)
        // B only receives (A is a member it never posts to successfully).
        let nowhere = ProxyAnnouncement(address: PeerAddress(host: "127.0.0.1", port: 1), tls: false)
        try await withProxy(configuration, nodeID: "b", writer: FixedWriter(.local, sidecars: ["a": nowhere]),
                            hops: HopAuthenticator(key: Self.key, nodeID: "b")) { proxyB in
            let announcedB = ProxyAnnouncement(address: PeerAddress(host: "127.0.0.1", port: proxyB.localAddress?.port ?? 0), tls: false)
            try await withProxy(configuration, nodeID: "a", writer: FixedWriter(.local, sidecars: ["b": announcedB]),
                                hops: HopAuthenticator(key: Self.key, nodeID: "a")) { proxyA in
                let client = HTTPClient()
                func get(_ proxy: SidecarProxyServer, tenant: String) async throws -> Int {
                    try await client.send(HTTPClientRequest(url: proxy.url + "/r", headers: ["X-Tenant": tenant])).status
                }
                // One request at a time, each in its own post (A posts an interval's counts only
                // when it has some): B has a request's count once it received one more post.
                let long = String(repeating: "t", count: 6000)
                for (tenant, posts) in [(long, 1), ("t1", 2)] {
                    #expect(try await get(proxyA, tenant: tenant) == 200)
                    try await waitUntil("B to get A's counts (\(posts) posts)", timeout: .seconds(30)) {
                        proxyB.metrics.exchanges("received", "ok") + proxyB.metrics.exchanges("received", "malformed") >= posts
                    }
                    #expect(proxyB.metrics.exchanges("received", "malformed") == 0)
                    // The tenant used its allowance at A; B knows it.
                    #expect(try await get(proxyB, tenant: tenant) == 503, "the request of \(tenant.prefix(8))… at A was not charged at B")
                }
                await client.shutdown()
            }
        }
        await upstream.stop()
    }

    /// Counts of more long keys than one post may carry (16 MiB) in an interval: every post the
    /// sidecar sends must be one a receiver reads, and together they must carry every key.
    @Test func manyLongKeysInOneIntervalAreSentInPostsAReceiverReads() async throws {
        let upstream = try await RecordingUpstream.start(name: "up")
        // Stands in for the other sidecar: keeps every post of counts.
        let posts = Mutex<[[UInt8]]>([])
        var receiverSettings = HTTPServerConfiguration()
        receiverSettings.limits.maxBodyBytes = 1 << 30
        let receiver = try await HTTPServer.start(configuration: receiverSettings, responder: HTTPResponder { request in
            var body: [UInt8] = []
            for try await piece in request.body { body += piece }
            posts.withLock { $0.append(body) }
            return HTTPResponse(status: 204, headers: HTTPHeaders(), bytes: [])
        })
        var configuration = proxyConfiguration([("local", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("zone=tenants key=header:x-tenant rate=1r/m shared")])
        // Long enough that the requests below fall in one or two intervals.
        configuration.rateLimit.shareInterval = .seconds(10)
        let announced = ProxyAnnouncement(address: PeerAddress(host: "127.0.0.1", port: receiver.localAddress.port), tls: false)
        let requests = 1200
        let marker = "the-last-tenant"
        try await withProxy(configuration, nodeID: "a", writer: FixedWriter(.local, sidecars: ["b": announced]),
                            hops: HopAuthenticator(key: Self.key, nodeID: "a")) { proxy in
            // 1200 keys of 15,000 bytes, 30,000 hex digits each in a post: 36 MB, so one
            // interval holds more than 16 MiB of them.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<4 {
                    group.addTask {
                        let client = HTTPClient()
                        for index in stride(from: lane, to: requests, by: 4) {
                            let tenant = String(index) + String(repeating: "t", count: 15_000 - String(index).utf8.count)
                            let response = try await client.send(HTTPClientRequest(url: proxy.url + "/r", headers: ["X-Tenant": tenant]))
                            #expect(response.status == 200, "tenant \(index): \(response.status)")
                        }
                        await client.shutdown()
                    }
                }
                try await group.waitForAll()
            }
            let client = HTTPClient()
            #expect(try await client.send(HTTPClientRequest(url: proxy.url + "/r", headers: ["X-Tenant": marker])).status == 200)
            await client.shutdown()
            let markerHex = Array(#""key":"\#(marker.utf8.map { String($0, radix: 16) }.joined())""#.utf8)
            try await waitUntil("the counts of the last request to be posted", timeout: .seconds(60)) {
                posts.withLock { $0.contains { $0.firstRange(of: markerHex) != nil } }
            }
        }
        var keys = Set<RateLimitKey>()
        for (index, body) in posts.withLock({ $0 }).enumerated() {
            switch SharedCountsMessage.decode(body, sharedZones: ["tenants": 0]) {
            case .success(let decoded): keys.formUnion(decoded.counts.entries.map(\.key))
            case .failure(let problem): Issue.record("post \(index) (\(body.count) bytes) is refused by a receiver: \(problem.message)")
            }
        }
        #expect(keys.count == requests + 1, "keys a receiver could charge: \(keys.count)")
        await receiver.shutdown(gracePeriod: .seconds(1))
        await upstream.stop()
    }
}
