import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Testing

// MARK: - Posts of shared counts read within a budget

/// A post of shared counts is checked (its MAC covers the body) only once read, so posts with
/// forged proofs could make a sidecar buffer 16 MiB each. The bytes read at once are bounded:
/// posts beyond the budget are answered 503 at once, and the budget comes back when they end.
@Suite("Sidecar proxy: shared counts are read within a byte budget")
struct SharedCountsBudgetTests {
    static let key = try! HopKey(bytes: Array("a secret every sidecar of the cluster shares!".utf8))

    @Test func postsBeyondTheBudgetAreRefusedAtOnceAndTheBudgetComesBack() async throws {
        let upstream = try await RecordingUpstream.start(name: "up")
        var configuration = proxyConfiguration([("local", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("zone=shared rate=1r/m key=addr shared")])
        let nowhere = ProxyAnnouncement(address: PeerAddress(host: "127.0.0.1", port: 1), tls: false)
        let writer = FixedWriter(.local, sidecars: ["a": nowhere, "b": nowhere])
        let path = "/.sidecar/ratelimit/counts"
        // A well-formed proof under another key: it parses, and fails only once the body is read.
        let forger = HopAuthenticator(key: try HopKey(bytes: Array("not the cluster's key, but long enough".utf8)), nodeID: "a")
        let held = SharedCountsMessage.maximumBytes
        try await withProxy(configuration, nodeID: "b", writer: writer, hops: HopAuthenticator(key: Self.key, nodeID: "b")) { proxy in
            let port = try #require(proxy.localAddress?.port)
            let address = try #require(SocketAddress(numericHost: "127.0.0.1", port: port))
            let empty = #"{"counts":[]}"#
            func head(_ length: Int) -> String {
                "POST \(path) HTTP/1.1\r\nHost: b\r\n\(HopProof.header): \(forger.proof(method: "POST", target: path, receiver: "b", body: []))\r\n"
                    + "Content-Length: \(length)\r\n\r\n"
            }
            // Two posts that declare 16 MiB each and send a little: they hold the whole budget.
            var holders: [RawSocketClient] = []
            for _ in 0..<2 {
                let holder = try RawSocketClient(connectTo: address)
                try holder.send(head(held) + "{\"counts\":[")
                holders.append(holder)
            }
            try await waitUntil("both posts being read") { proxy.metrics.exchanges("received", "busy") == 0 && proxy.openConnections >= 2 }
            var refused: RawResponse?
            try await waitUntil("a third post to be refused for the budget") {
                let third = try RawSocketClient(connectTo: address)
                try third.send(head(empty.utf8.count) + empty)
                let answer = try await third.readResponse()
                refused = answer
                return answer.status == 503
            }
            #expect(refused?.bodyText.contains("being read already") == true, "\(refused?.bodyText ?? "")")
            #expect(proxy.metrics.exchanges("received", "busy") >= 1)

            // The holders go away; the budget is back, and a post is read (and refused for its MAC).
            holders.removeAll()  // closes them
            try await waitUntil("a post to be read again once the holders left") {
                let next = try RawSocketClient(connectTo: address)
                try next.send(head(empty.utf8.count) + empty)
                return try await next.readResponse().status == 403
            }
        }
        await upstream.stop()
    }
}
