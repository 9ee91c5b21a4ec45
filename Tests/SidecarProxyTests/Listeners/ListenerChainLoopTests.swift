import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
@testable import SidecarProxy
import Testing

/// The HTTP proxy's upstream resolving to a `-tcp-proxy` listener of the same sidecar whose
/// upstream is the HTTP listener (names that came to point at this machine after the start,
/// which the start's check could not see): each guard left out only its own listener, so a
/// request went round, HTTP listener, TCP listener, HTTP listener, each round holding two more
/// connections, until a limit ran out. Each listener now leaves out every listener of the
/// sidecar whose connections would come back to it: one 502 naming the loop, and the listeners
/// see only the client's connection. A chain that does not come back still passes.
@Suite("Sidecar proxy: connections going round the sidecar's own listeners", .timeLimit(.minutes(3)))
struct ListenerChainLoopTests {
    /// The HTTP listener on `httpPort` with upstream `app` at the TCP listener on `tcpPort`,
    /// whose upstream is `tcpUpstream` (the HTTP listener, for a loop).
    static func configuration(httpPort: UInt16, tcpPort: UInt16, tcpUpstream: PeerAddress) -> (ProxyConfiguration, TCPProxySpec) {
        var configuration = proxyConfiguration([])
        configuration.listenAddress = PeerAddress(host: "127.0.0.1", port: httpPort)
        configuration.upstreams = [UpstreamDefinition(name: "app", address: PeerAddress(host: "127.0.0.1", port: tcpPort))]
        // max-conns bounds the loop this guards against.
        let spec = TCPProxySpec(listen: PeerAddress(host: "127.0.0.1", port: tcpPort), upstream: tcpUpstream, maxConnections: 20)
        configuration.tcpProxies = [spec]
        return (configuration, spec)
    }

    /// The connections the TCP listener accepted, from the metrics.
    static func tcpAccepted(_ proxy: SidecarProxyServer) -> [Substring] {
        proxy.metrics.prometheusText(openHTTPConnections: 0, health: [], process: false)
            .split(separator: "\n").filter { $0.hasPrefix("disco_proxy_tcp_connections_total{") }
    }

    @Test func aRequestDoesNotGoRoundTheHTTPAndTCPListeners() async throws {
        let (httpPort, tcpPort) = (try FreePort.loopback(), try FreePort.loopback())
        let (configuration, spec) = Self.configuration(httpPort: httpPort, tcpPort: tcpPort,
                                                       tcpUpstream: PeerAddress(host: "127.0.0.1", port: httpPort))
        try await withProxy(configuration) { proxy in
            let server = try #require(proxy.server)
            let client = HTTPClient()
            let response = try await client.send(HTTPClientRequest(url: "http://127.0.0.1:\(httpPort)/x"))
            await client.shutdown()
            #expect(response.status == 502, "\(response.bodyText.prefix(300))")
            let error = (try? json(response))?["error"]?.stringValue ?? ""
            #expect(error.hasPrefix("upstream \"app\" (127.0.0.1:\(tcpPort)) resolves to the proxy itself"), "\(response.bodyText)")
            #expect(error.contains("-tcp-proxy \(spec) (127.0.0.1:\(tcpPort)) of the same sidecar accepts and passes back to "
                + "the HTTP proxy's listener (127.0.0.1:\(httpPort))"), "\(response.bodyText)")
            #expect(server.acceptedConnections == 1, "only the client's connection, not a round of hops")
            #expect(Self.tcpAccepted(proxy).isEmpty, "the TCP listener saw no connection: \(Self.tcpAccepted(proxy))")
            #expect(proxy.metrics.requests(status: 502) == 1)
        }
    }

    /// The same loop entered at the TCP listener: its connection to the HTTP listener would come
    /// back to it, so the client's connection is closed and the HTTP listener sees none.
    @Test func aTCPConnectionDoesNotGoRoundTheTCPAndHTTPListeners() async throws {
        let (httpPort, tcpPort) = (try FreePort.loopback(), try FreePort.loopback())
        let (configuration, spec) = Self.configuration(httpPort: httpPort, tcpPort: tcpPort,
                                                       tcpUpstream: PeerAddress(host: "127.0.0.1", port: httpPort))
        try await withProxy(configuration) { proxy in
            let server = try #require(proxy.server)
            let listener = try #require(proxy.tcpListeners.first)
            let client = try await TCPConnection.connect(to: listener.localAddress)
            // Nothing written: a close with unread bytes would be a reset rather than an end.
            #expect(try await client.read() == nil, "the proxy closes the client's connection")
            client.close()
            try await waitUntil("the listener to hold no connection") { listener.openConnections == 0 }
            #expect(server.acceptedConnections == 0, "the HTTP listener saw no connection")
            #expect(Self.tcpAccepted(proxy) == ["disco_proxy_tcp_connections_total{listener=\"\(spec)\"} 1"], "only the client's")
        }
    }

    /// The HTTP proxy's upstream a TCP listener of the sidecar whose upstream is elsewhere (the
    /// start lets it through too): the request reaches that upstream.
    @Test func aChainThatDoesNotComeBackPasses() async throws {
        let upstream = try await AbsoluteFormTargetTests.RawHeadUpstream()
        let (httpPort, tcpPort) = (try FreePort.loopback(), try FreePort.loopback())
        let (configuration, _) = Self.configuration(httpPort: httpPort, tcpPort: tcpPort,
                                                    tcpUpstream: PeerAddress(host: upstream.address.host, port: upstream.address.port))
        try await withProxy(configuration) { proxy in
            let client = HTTPClient()
            let response = try await client.send(HTTPClientRequest(url: "http://127.0.0.1:\(httpPort)/chained"))
            await client.shutdown()
            #expect(response.status == 200, "\(response.bodyText.prefix(300))")
            #expect(response.bodyText == "ok")
        }
        #expect(upstream.heads.first?.hasPrefix("GET /chained HTTP/1.1") == true, "\(upstream.heads)")
        await upstream.stop()
    }
}
