import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

/// Two sidecars in one process: B is the writer. Writes sent to A reach B's upstream, reads
/// stay with A's, and a request that already hopped is never forwarded again.
@Suite("Sidecar proxy: writes go to the writer's upstream")
struct WriterRoutingTests {
    @Test func writesHopOnceToTheWriterAndReadsStayLocal() async throws {
        let upstreamA = try await RecordingUpstream.start(name: "A")
        let upstreamB = try await RecordingUpstream.start(name: "B")
        let store = InMemoryAPIKeyStore([try APIKeyRecord.hashing(appID: "app", key: "k")])
        // B believes A is the writer (a stale view): the hop header must stop the ping-pong.
        var configurationB = proxyConfiguration([("local", upstreamB.address)])
        configurationB.apiKeys = APIKeySettings(enabled: true)
        try await withProxy(configurationB, nodeID: "b", writer: FixedWriter(.remote(address: "127.0.0.1:1", id: "a")), keys: store) { proxyB in
            var configurationA = proxyConfiguration([("local", upstreamA.address)])
            configurationA.apiKeys = APIKeySettings(enabled: true)
            let writer = FixedWriter(.remote(address: proxyB.localAddress!.description, id: "b"))
            try await withProxy(configurationA, nodeID: "a", writer: writer, keys: store) { proxyA in
                let client = HTTPClient()
                let write = try await client.send(HTTPClientRequest(method: "POST", url: proxyA.url + "/tx",
                                                                    headers: ["app_id": "app", "app_key": "k", "X-Forwarded-Proto": "https"],
                                                                    body: Array("{\"a\":1}".utf8)))
                #expect(write.status == 200)
                #expect(write.bodyText == "B POST /tx 7")
                let read = try await client.send(HTTPClientRequest(url: proxyA.url + "/tx/1"))
                #expect(read.bodyText == "A GET /tx/1 0")
                let seen = try #require(upstreamB.requests.first)
                #expect(seen.headers[RoutingDecision.hopHeader] == nil, "the hop header reached the upstream")
                #expect(seen.headers["app_key"] == nil)
                #expect(seen.headers["X-Forwarded-For"] == "127.0.0.1, 127.0.0.1", "both hops are recorded")
                #expect(seen.headers["X-Forwarded-Proto"] == "http", "the first sidecar sets the client's proto; the writer keeps it")
                #expect(upstreamA.requests.map(\.method) == ["GET"])
                // The writer checks the key itself: a write without one is refused at A already,
                // and one sent straight to B with A's hop header still needs a key.
                let forged = try await client.send(HTTPClientRequest(method: "POST", url: proxyB.url + "/tx",
                                                                     headers: [RoutingDecision.hopHeader: "a"]))
                #expect(forged.status == 401)
                await client.shutdown()
            }
        }
        await upstreamA.stop()
        await upstreamB.stop()
    }

    /// Without a hop key, a request with the hop header is taken as another sidecar's only when
    /// it comes from a member's address: then it ends at the sidecar that receives it and keeps
    /// its forwarding headers. From anywhere else it is routed as a client's request (here: to
    /// the writer, which cannot be reached), so a client can neither skip routing nor claim HTTPS
    /// or another host by adding the header.
    @Test func forwardingHeadersOfAHopAreTrustedOnlyFromTheClustersSidecars() async throws {
        let upstream = try await RecordingUpstream.start(name: "A")
        let writer = WriterLocation.remote(address: "127.0.0.1:1", id: "w")
        for peerHost in ["10.9.9.9", "127.0.0.1"] {
            let peers = SidecarPeers(memberAddresses: ["\(peerHost):4001"], announcements: [])
            try await withProxy(proxyConfiguration([("local", upstream.address)]), nodeID: "a",
                                writer: FixedWriter(writer, peers: peers)) { proxy in
                let client = HTTPClient()
                let hop = try await client.send(HTTPClientRequest(method: "POST", url: proxy.url + "/tx",
                                                                  headers: [RoutingDecision.hopHeader: "b", "X-Forwarded-Proto": "https",
                                                                            "X-Forwarded-Host": "evil.example"]))
                let trusted = peerHost == "127.0.0.1"
                #expect(hop.status == (trusted ? 200 : 502), "\(peerHost): \(hop.status) \(hop.bodyText)")
                #expect(proxy.metrics.hops(trusted ? "trusted_address" : "untrusted_address") == 1)
                await client.shutdown()
            }
        }
        let seen = upstream.requests
        #expect(seen.map(\.method) == ["POST"], "only the member's hop goes to the local upstream")
        #expect(seen.last?.headers["X-Forwarded-Proto"] == "https", "from a member, the first sidecar's")
        #expect(seen.last?.headers["X-Forwarded-Host"] == "evil.example")
        #expect(seen.allSatisfy { $0.headers[RoutingDecision.hopHeader] == nil })
        await upstream.stop()
    }
}
