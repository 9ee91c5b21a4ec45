import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

/// With `-proxy-hop-key`, a hop is proven, not asserted: the writer's sidecar sends a request to
/// its own upstream only when the hop header comes with a proof that verifies for the request's
/// method and target, names the same node, is fresh and was never used before. Anything else
/// is routed as a client's request (here, on to the writer).
@Suite("Sidecar proxy: hops between sidecars are proven")
struct HopProofTests {
    static let key = try! HopKey(bytes: Array("a secret every sidecar of the cluster shares!".utf8))

    @Test func aForgedHopHeaderDoesNotBypassRouting() async throws {
        let local = try await RecordingUpstream.start(name: "local")
        // Stands in for the writer's sidecar: records what this sidecar forwards to it.
        let writerProxy = try await RecordingUpstream.start(name: "writer")
        let writer = FixedWriter(.remote(address: writerProxy.address.description, id: "w"), peers: nil)
        let other = HopAuthenticator(key: Self.key, nodeID: "w")
        let wrongKey = HopAuthenticator(key: try HopKey(bytes: Array(repeating: 0x41, count: 32)), nodeID: "w")
        try await withProxy(proxyConfiguration([("local", local.address)]), nodeID: "a", writer: writer,
                            hops: HopAuthenticator(key: Self.key, nodeID: "a")) { proxy in
            let client = HTTPClient()
            let attempts: [(HTTPHeaders, String)] = [
                ([RoutingDecision.hopHeader: "w"], "missing"),
                ([RoutingDecision.hopHeader: "w", HopProof.header: wrongKey.proof(method: "POST", target: "/tx", receiver: "a")], "bad_mac"),
                ([RoutingDecision.hopHeader: "w", HopProof.header: "v2 node=w ts=1 nonce=zz mac=00"], "malformed"),
            ]
            for (headers, label) in attempts {
                let response = try await client.send(HTTPClientRequest(method: "POST", url: proxy.url + "/tx", headers: headers))
                #expect(response.bodyText.hasPrefix("writer POST /tx"), "\(label): \(response.status) \(response.bodyText)")
                #expect(proxy.metrics.hops(label) == 1, "\(label)")
            }
            #expect(proxy.metrics.hops("proven") == 0)
            await client.shutdown()
        }
        #expect(local.requests.isEmpty, "a forged hop reached the local upstream")
        // What reached the writer carries this sidecar's own hop and a proof the writer verifies.
        #expect(writerProxy.requests.count == 3)
        for seen in writerProxy.requests {
            #expect(seen.headers[RoutingDecision.hopHeader] == "a")
            #expect(other.verify(seen.headers[HopProof.header], method: "POST", target: "/tx") == .proven(node: "a"))
        }
        await local.stop()
        await writerProxy.stop()
    }

    @Test func aProvenHopEndsHereButAReplayedExpiredOrMisattributedProofDoesNot() async throws {
        let local = try await RecordingUpstream.start(name: "local")
        let writerProxy = try await RecordingUpstream.start(name: "writer")
        let writer = FixedWriter(.remote(address: writerProxy.address.description, id: "w"), peers: nil)
        let sender = HopAuthenticator(key: Self.key, nodeID: "b")
        try await withProxy(proxyConfiguration([("local", local.address)]), nodeID: "a", writer: writer,
                            hops: HopAuthenticator(key: Self.key, nodeID: "a")) { proxy in
            let client = HTTPClient()
            func post(_ target: String, hop: String, proof: String) async throws -> String {
                try await client.send(HTTPClientRequest(method: "POST", url: proxy.url + target,
                                                        headers: [RoutingDecision.hopHeader: hop, HopProof.header: proof])).bodyText
            }
            let proof = sender.proof(method: "POST", target: "/tx", receiver: "a")
            let answer1 = try await post("/tx", hop: "b", proof: proof)
            #expect(answer1.hasPrefix("local POST /tx"))
            #expect(proxy.metrics.hops("proven") == 1)
            let answer2 = try await post("/tx", hop: "b", proof: proof)
            #expect(answer2.hasPrefix("writer POST /tx"), "a replayed proof")
            #expect(proxy.metrics.hops("replayed") == 1)
            let stale = sender.proof(method: "POST", target: "/tx", receiver: "a", timestamp: HopAuthenticator.wallClock() - 60_000,
                                     nonce: Array(repeating: 7, count: HopProof.nonceLength))
            let answer3 = try await post("/tx", hop: "b", proof: stale)
            #expect(answer3.hasPrefix("writer POST /tx"), "an expired proof")
            #expect(proxy.metrics.hops("expired") == 1)
            let future = sender.proof(method: "POST", target: "/tx", receiver: "a", timestamp: HopAuthenticator.wallClock() + 60_000,
                                      nonce: Array(repeating: 8, count: HopProof.nonceLength))
            let answer4 = try await post("/tx", hop: "b", proof: future)
            #expect(answer4.hasPrefix("writer POST /tx"), "a proof from the future")
            #expect(proxy.metrics.hops("future") == 1)
            let answer5 = try await post("/other", hop: "b", proof: sender.proof(method: "POST", target: "/tx", receiver: "a"))
            #expect(answer5.hasPrefix("writer POST /other"),
                    "a proof for another target")
            #expect(proxy.metrics.hops("bad_mac") == 1)
            let answer6 = try await post("/tx", hop: "c", proof: sender.proof(method: "POST", target: "/tx", receiver: "a"))
            #expect(answer6.hasPrefix("writer POST /tx"),
                    "a hop header naming another node than the proof")
            #expect(proxy.metrics.hops("node_mismatch") == 1)
            await client.shutdown()
        }
        #expect(local.requests.count == 1)
        #expect(local.requests.allSatisfy { $0.headers[HopProof.header] == nil && $0.headers[RoutingDecision.hopHeader] == nil },
                "the proof and hop headers never reach an upstream")
        await local.stop()
        await writerProxy.stop()
    }

    /// Two sidecars with the same key: a write sent to A reaches the writer B's upstream, and B
    /// counts the hop as proven.
    @Test func aRealHopBetweenTwoSidecarsIsProven() async throws {
        let upstreamA = try await RecordingUpstream.start(name: "A")
        let upstreamB = try await RecordingUpstream.start(name: "B")
        try await withProxy(proxyConfiguration([("local", upstreamB.address)]), nodeID: "b", writer: FixedWriter(.local, peers: nil),
                            hops: HopAuthenticator(key: Self.key, nodeID: "b")) { proxyB in
            let writer = FixedWriter(.remote(address: proxyB.localAddress!.description, id: "b"))
            try await withProxy(proxyConfiguration([("local", upstreamA.address)]), nodeID: "a", writer: writer,
                                hops: HopAuthenticator(key: Self.key, nodeID: "a")) { proxyA in
                let client = HTTPClient()
                for index in 0..<3 {
                    let write = try await client.send(HTTPClientRequest(method: "POST", url: proxyA.url + "/tx", body: Array("w\(index)".utf8)))
                    #expect(write.bodyText == "B POST /tx 2", "\(write.status) \(write.bodyText)")
                }
                #expect(proxyB.metrics.hops("proven") == 3)
                await client.shutdown()
            }
        }
        #expect(upstreamA.requests.isEmpty)
        await upstreamA.stop()
        await upstreamB.stop()
    }
}
