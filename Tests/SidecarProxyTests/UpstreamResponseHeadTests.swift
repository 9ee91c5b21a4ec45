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
}
