import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Testing

/// A write that reached a follower's sidecar is limited there, by its client, then hops to the
/// writer's sidecar. The writer must not limit the hop again: it would charge the request twice,
/// and by the forwarding sidecar's address, so every client of that sidecar would share one
/// bucket at the writer (and a client's writes through a follower would use up the writer's
/// budget for that address).
@Suite("Sidecar proxy: a proven hop is not rate-limited again at the writer")
struct RateLimitHopTests {
    static let key = try! HopKey(bytes: Array("a secret every sidecar of the cluster shares!".utf8))
    static let limit = "zone=per_client rate=1r/m status=429"

    func limited(_ upstream: RecordingUpstream) throws -> ProxyConfiguration {
        var configuration = proxyConfiguration([("up", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse(Self.limit)])
        return configuration
    }

    @Test func aWriteThroughAFollowerIsChargedOnlyWhereItsClientSentIt() async throws {
        let writerUpstream = try await RecordingUpstream.start(name: "a-up")
        let followerUpstream = try await RecordingUpstream.start(name: "b-up")
        try await withProxy(try limited(writerUpstream), nodeID: "a", writer: FixedWriter(.local),
                            hops: HopAuthenticator(key: Self.key, nodeID: "a")) { writer in
            let follower = FixedWriter(.remote(address: writer.localAddress?.description ?? "?", id: "a"))
            try await withProxy(try limited(followerUpstream), nodeID: "b", writer: follower,
                                hops: HopAuthenticator(key: Self.key, nodeID: "b")) { proxy in
                let client = HTTPClient()
                func post(_ url: String, _ headers: HTTPHeaders = [:]) async throws -> HTTPClientResponse {
                    try await client.send(HTTPClientRequest(method: "POST", url: url + "/tx", headers: headers, body: [1]))
                }
                let viaFollower = try await post(proxy.url)
                #expect(viaFollower.status == 200 && viaFollower.bodyText.hasPrefix("a-up POST /tx"),
                        "\(viaFollower.status) \(viaFollower.bodyText)")
                #expect(writer.metrics.hops("proven") == 1)
                // The writer's sidecar has not admitted a request of its own clients yet.
                let direct = try await post(writer.url)
                #expect(direct.status == 200, "the hop was charged at the writer: \(direct.status) \(direct.bodyText)")
                // Its own limit still holds, and claiming to be a hop does not escape it.
                #expect(try await post(writer.url).status == 429)
                #expect(try await post(writer.url, [RoutingDecision.hopHeader: "b"]).status == 429)
                #expect(try await post(proxy.url).status == 429, "the follower still limits its client")
                await client.shutdown()
            }
        }
        await writerUpstream.stop()
        await followerUpstream.stop()
    }

    @Test func hopsFromOneFollowerDoNotShareABucketAtTheWriter() async throws {
        let upstream = try await RecordingUpstream.start(name: "a-up")
        let sender = HopAuthenticator(key: Self.key, nodeID: "b")
        try await withProxy(try limited(upstream), nodeID: "a", writer: FixedWriter(.local),
                            hops: HopAuthenticator(key: Self.key, nodeID: "a")) { writer in
            let client = HTTPClient()
            // Three clients of sidecar b, each limited there, hop one after the other.
            for index in 0..<3 {
                let headers: HTTPHeaders = [RoutingDecision.hopHeader: "b",
                                            HopProof.header: sender.proof(method: "POST", target: "/tx", receiver: "a")]
                let response = try await client.send(HTTPClientRequest(method: "POST", url: writer.url + "/tx", headers: headers, body: [1]))
                #expect(response.status == 200, "hop \(index): \(response.status) \(response.bodyText)")
            }
            #expect(writer.metrics.hops("proven") == 3)
            await client.shutdown()
        }
        #expect(upstream.requests.count == 3)
        await upstream.stop()
    }
}
