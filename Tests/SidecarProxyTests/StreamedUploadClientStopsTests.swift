import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

// MARK: - A client that stops in the middle of a streamed request body

/// A request body longer than the whole-body limit streams to the upstream as it arrives. When
/// its client stops half-way (closes, or half-closes, before the body's end), the exchange fails
/// on the client's side: the upstream's connection is closed mid-body, and the request is
/// answered as a body that cannot be read (400, or 499 when the client left), as a small body
/// cut short is. It is not an upstream failure: no 502, nothing in
/// `disco_proxy_upstream_failures_total`, no health check out of turn, no warning naming the upstream.
@Suite("Sidecar proxy: a client that stops in the middle of a streamed request body", .timeLimit(.minutes(2)))
struct StreamedUploadClientStopsTests {
    enum Framing: String, CaseIterable, Sendable { case contentLength, chunked }

    @Test(arguments: Framing.allCases, [false, true])
    func itIsNotCountedAsAnUpstreamFailure(framing: Framing, halfClose: Bool) async throws {
        let upstream = try await RecordingUpstream.start(name: "U")
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            do {
                let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 30)
                let sent = String(repeating: "b", count: 100_000)
                switch framing {
                case .contentLength:
                    try client.send("PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + sent)
                case .chunked:
                    // Past the whole-body limit, so it streams; the last chunk never comes.
                    try client.send("PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + String(sent.utf8.count, radix: 16) + "\r\n" + sent + "\r\n")
                }
                if halfClose {
                    client.shutdownWrite()
                    _ = try? await client.readUntilClose()
                }
                // Otherwise closed at the end of this scope.
            }
            try await Self.expectAnsweredAsTheClientsFailure(proxy)
            #expect(upstream.requests.isEmpty, "the upstream never got a complete request")
        }
        await upstream.stop()
    }
}

extension StreamedUploadClientStopsTests {
    /// The upstream answers early (its head and part of a short body) while the body still
    /// streams; the client then stops: still the client's failure, not the upstream's.
    @Test func afterAnEarlyAnswerItIsNotCountedAsAnUpstreamFailure() async throws {
        let upstream = try await ScriptedTCPUpstream(script: Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8),
                                                     later: Array("defghij".utf8), closeAfter: false)
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            do {
                let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 30)
                try client.send("PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + String(repeating: "b", count: 100_000))
                try await waitUntil("the upstream to answer early") { upstream.connections == 1 }
                client.shutdownWrite()
                _ = try? await client.readUntilClose()
            }
            try await Self.expectAnsweredAsTheClientsFailure(proxy)
        }
        await upstream.stop()
    }

    /// Waits for the one request to be answered (400, 499 or 502), then checks it was not
    /// answered or counted as the upstream's failure.
    static func expectAnsweredAsTheClientsFailure(_ proxy: SidecarProxyServer) async throws {
        let answered = { [400, 499, 502].map { proxy.metrics.requests(status: $0) }.reduce(0, +) }
        try await waitUntil("the request to be answered", timeout: .seconds(60)) { answered() == 1 }
        #expect(proxy.metrics.requests(status: 502) == 0, "the client's broken body is not a bad gateway")
        #expect(proxy.metrics.upstreamFailures("u") == 0, "the upstream did not fail")
    }
}
