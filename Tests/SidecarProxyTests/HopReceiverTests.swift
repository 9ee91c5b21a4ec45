import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Testing

// MARK: - A proof is for one receiver

/// A hop proof names the sidecar it is sent to, and each sidecar checks it with its own node ID:
/// whoever reads one sidecar's traffic cannot replay a proof (a hop, or a post of shared
/// counts) at another sidecar within the freshness window, where the nonce was never seen.
@Suite("Sidecar proxy: a hop proof holds only at the sidecar it was made for")
struct HopReceiverTests {
    static let key = try! HopKey(bytes: Array("a secret every sidecar of the cluster shares!".utf8))

    @Test func aProofForBVerifiesAtBAndIsRefusedAtC() {
        let a = HopAuthenticator(key: Self.key, nodeID: "a")
        let b = HopAuthenticator(key: Self.key, nodeID: "b")
        let c = HopAuthenticator(key: Self.key, nodeID: "c")
        let proof = a.proof(method: "POST", target: "/tx", receiver: "b")
        // At C first: were the receiver not covered, C (which never saw the nonce) would accept it.
        guard case .refused(let label, let reason) = c.verify(proof, method: "POST", target: "/tx") else {
            Issue.record("a proof made for b was accepted at c")
            return
        }
        #expect(label == "bad_mac")
        #expect(reason.contains("another sidecar"), "\(reason)")
        #expect(b.verify(proof, method: "POST", target: "/tx") == .proven(node: "a"))

        let counts = Array(#"{"counts":[]}"#.utf8)
        let post = a.proof(method: "POST", target: "/.sidecar/ratelimit/counts", receiver: "b", body: counts)
        #expect(c.verify(post, method: "POST", target: "/.sidecar/ratelimit/counts", body: counts) != .proven(node: "a"))
        #expect(b.verify(post, method: "POST", target: "/.sidecar/ratelimit/counts", body: counts) == .proven(node: "a"))
    }

    /// Sidecars B and C share a zone with member A. A post of counts A made for B is charged at
    /// B; the same post (fresh, its nonce unseen at C) replayed at C is refused and charges
    /// nothing there.
    @Test func countsCapturedOnTheirWayToOneSidecarAreRefusedByAnother() async throws {
        let upstream = try await RecordingUpstream.start(name: "up")
        var configuration = proxyConfiguration([("local", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("zone=shared rate=1r/m key=addr shared")])
        // Announced proxies nobody listens on: what B and C post to each other goes nowhere.
        let nowhere = ProxyAnnouncement(address: PeerAddress(host: "127.0.0.1", port: 1), tls: false)
        let writer = FixedWriter(.local, sidecars: ["a": nowhere, "b": nowhere, "c": nowhere])
        let a = HopAuthenticator(key: Self.key, nodeID: "a")
        // Counts that would use up 127.0.0.1's allowance if they were charged.
        let body = Array(#"{"counts":[{"zone":"shared","key":"7f000001","requests":100}]}"#.utf8)
        let path = "/.sidecar/ratelimit/counts"
        let headers: HTTPHeaders = [RoutingDecision.hopHeader: "a", HopProof.header: a.proof(method: "POST", target: path, receiver: "b", body: body)]
        try await withProxy(configuration, nodeID: "b", writer: writer, hops: HopAuthenticator(key: Self.key, nodeID: "b")) { proxyB in
            try await withProxy(configuration, nodeID: "c", writer: writer, hops: HopAuthenticator(key: Self.key, nodeID: "c")) { proxyC in
                let client = HTTPClient()
                let atB = try await client.send(HTTPClientRequest(method: "POST", url: proxyB.url + path, headers: headers, body: body))
                #expect(atB.status == 204, "the post B was meant to get: \(atB.status) \(atB.bodyText)")
                let atC = try await client.send(HTTPClientRequest(method: "POST", url: proxyC.url + path, headers: headers, body: body))
                #expect(atC.status == 403, "the same post replayed at C: \(atC.status) \(atC.bodyText)")
                #expect(proxyC.metrics.exchanges("received", "bad_mac") == 1)
                #expect(proxyC.metrics.exchanges("received", "ok") == 0)
                let readAtC = try await client.send(HTTPClientRequest(url: proxyC.url + "/r"))
                #expect(readAtC.status == 200, "the replayed counts were charged at C: \(readAtC.status)")
                let readAtB = try await client.send(HTTPClientRequest(url: proxyB.url + "/r"))
                #expect(readAtB.status != 200, "the counts were not charged at B: \(readAtB.status)")
                await client.shutdown()
            }
        }
        await upstream.stop()
    }
}
