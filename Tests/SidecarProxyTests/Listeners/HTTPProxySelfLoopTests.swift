import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
@testable import SidecarProxy
import Testing

/// An HTTP upstream whose name resolves, when a request comes, to an address the proxy's own
/// listener accepts (a name that came to point at this machine after the start, which the
/// start's check could not see): each request was passed to the proxy again, hop after hop, each
/// hop holding a connection, until the head outgrew its limit (about 270 hops), and the client
/// got that error from the innermost hop. The proxy's client leaves out such addresses: one
/// 502 saying so, and the listener sees only the client's connection.
@Suite("Sidecar proxy: an HTTP upstream that resolves to the proxy itself")
struct HTTPProxySelfLoopTests {
    @Test func aRequestIsNotPassedBackToTheProxyItself() async throws {
        let port = try FreePort.loopback()
        // Built in code, past the start's check (SidecarFlags.checkListeners): the upstream is
        // a name the listener's own host also resolves to (every address of it is bound).
        var configuration = proxyConfiguration([])
        configuration.listenAddress = PeerAddress(host: "localhost", port: port)
        configuration.upstreams = [UpstreamDefinition(name: "app", address: PeerAddress(host: "localhost", port: port))]
        try await withProxy(configuration) { proxy in
            let server = try #require(proxy.server)
            let client = HTTPClient()
            let response = try await client.send(HTTPClientRequest(url: "http://127.0.0.1:\(port)/x"))
            await client.shutdown()
            #expect(response.status == 502, "\(response.bodyText.prefix(300))")
            let body = try json(response)
            #expect(body["upstream"]?.stringValue == "app")
            #expect(body["error"]?.stringValue?.hasPrefix("upstream \"app\" (localhost:\(port)) resolves to the proxy itself") == true,
                    "\(response.bodyText)")
            #expect(server.acceptedConnections == 1, "only the client's connection, not a chain of hops")
            #expect(proxy.metrics.requests(status: 502) == 1)
        }
    }
}
