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
}
