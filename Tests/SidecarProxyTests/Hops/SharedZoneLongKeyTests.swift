import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
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
                let long = String(repeating: "t", count: 6000)
                #expect(try await get(proxyA, tenant: long) == 200)
                #expect(try await get(proxyA, tenant: "t1") == 200)
                try await waitUntil("B to get A's counts", timeout: .seconds(30)) {
                    proxyB.metrics.exchanges("received", "ok") + proxyB.metrics.exchanges("received", "malformed") >= 1
                }
                #expect(proxyB.metrics.exchanges("received", "malformed") == 0)
                #expect(proxyB.metrics.exchanges("received", "ok") >= 1)
                // Both tenants used their allowance at A; B knows it.
                #expect(try await get(proxyB, tenant: "t1") == 503, "t1's request at A was not charged at B")
                #expect(try await get(proxyB, tenant: long) == 503, "the long key's request at A was not charged at B")
                await client.shutdown()
            }
        }
        await upstream.stop()
    }
}
