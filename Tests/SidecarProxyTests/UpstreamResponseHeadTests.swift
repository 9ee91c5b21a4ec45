import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

// MARK: - Upstream response heads the proxy relays

@Suite("Sidecar proxy: upstream response heads", .timeLimit(.minutes(2)))
struct UpstreamResponseHeadTests {
    /// An application that sets many cookies answers with many short fields (150 `Set-Cookie`
    /// lines, about 4 KiB): nginx relays them, and so does the proxy, each on its own line
    /// (never combined with commas), on both lanes.
    @Test(arguments: [true, false])
    func manyShortFieldsAreRelayedEachOnItsOwnLine(lane: Bool) async throws {
        let cookies = (0..<150).map { "c\($0)=v\($0); Path=/" }
        let head = "HTTP/1.1 200 OK\r\n" + cookies.map { "Set-Cookie: \($0)\r\n" }.joined() + "Content-Length: 2\r\n\r\nok"
        let upstream = try await ScriptedTCPUpstream(script: Array(head.utf8))
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.inlineLane = lane
        try await withProxy(configuration) { proxy in
            let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 30)
            try client.send("GET /cookies HTTP/1.1\r\nHost: x\r\n\r\n")
            let answer = try await client.readResponse()
            #expect(answer.status == 200, "\(answer.bodyText)")
            #expect(answer.bodyText == "ok")
            let relayed = answer.headers.filter { $0.name.lowercased() == "set-cookie" }.map(\.value)
            #expect(relayed == cookies)
        }
        await upstream.stop()
    }

    /// Past the field limit the client gets a 502 naming that limit, not a byte size the head
    /// does not reach.
    @Test func tooManyFieldsGetA502NamingTheFieldLimit() async throws {
        let head = "HTTP/1.1 200 OK\r\n" + (0..<1001).map { "X-\($0): v\r\n" }.joined() + "Content-Length: 2\r\n\r\nok"
        let upstream = try await ScriptedTCPUpstream(script: Array(head.utf8))
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 30)
            try client.send("GET /many HTTP/1.1\r\nHost: x\r\n\r\n")
            let answer = try await client.readResponse()
            #expect(answer.status == 502)
            #expect(answer.bodyText.contains("more than 1000 fields"), "\(answer.bodyText)")
        }
        await upstream.stop()
    }

    /// A streamed answer (longer than the 64 KiB read whole) keeps its upstream's
    /// `Content-Length`, as nginx relays it: the client learns the size, and an HTTP/1.0 client
    /// keeps its connection. It used to be re-framed chunked (close-delimited for HTTP/1.0),
    /// its length dropped.
    @Test func aStreamedAnswerKeepsTheUpstreamsContentLength() async throws {
        let size = 200 * 1024 + 3
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        let upstream = try await HTTPServer.start(responder: HTTPResponder { _ in HTTPResponse(bytes: payload) })
        try await withProxy(proxyConfiguration([("u", upstream.localAddress)])) { proxy in
            for version in ["HTTP/1.1", "HTTP/1.0"] {
                let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
                let keepAlive = version == "HTTP/1.0" ? "Connection: keep-alive\r\n" : ""
                for _ in 0..<2 {
                    try client.send("GET /big \(version)\r\nHost: x\r\n\(keepAlive)\r\n")
                    let answer = try await client.readResponse()
                    #expect(answer.header("Content-Length") == "\(size)", "\(version): \(answer.headers)")
                    #expect(answer.header("Transfer-Encoding") == nil, "\(version): \(answer.headers)")
                    #expect(answer.body == payload)
                }
            }
        }
        await upstream.shutdown(gracePeriod: .seconds(1))
    }
}
