import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

/// A TCP listener whose upstream resolves, at the moment a connection comes, to an address the
/// listener accepts itself (a name that came to point at this machine after the start, which
/// the start's check could not see) opened a connection to itself for each one it accepted, and
/// so on until descriptors ran out. The listener leaves out such addresses: the client's
/// connection is closed, and no connection loops back.
@Suite("Sidecar proxy: a TCP upstream that resolves to the listener itself")
struct TCPProxySelfLoopTests {
    @Test func aConnectionIsNotPassedBackToItsOwnListener() async throws {
        let port = try FreePort.loopback()
        var configuration = proxyConfiguration([])
        configuration.listenAddress = nil
        // Built in code, past the start's check. max-conns bounds the loop this guards against.
        let spec = TCPProxySpec(listen: PeerAddress(host: "127.0.0.1", port: port), upstream: PeerAddress(host: "127.0.0.1", port: port),
                                maxConnections: 20)
        configuration.tcpProxies = [spec]
        try await withProxy(configuration) { proxy in
            let listener = try #require(proxy.tcpListeners.first)
            let client = try await TCPConnection.connect(to: listener.localAddress)
            // Nothing written: a close with unread bytes would be a reset rather than an end.
            #expect(try await client.read() == nil, "the proxy closes the client's connection")
            client.close()
            try await waitUntil("the listener to hold no connection") { listener.openConnections == 0 }
            let text = proxy.metrics.prometheusText(openHTTPConnections: 0, health: [], process: false)
            let accepted = text.split(separator: "\n").filter { $0.hasPrefix("disco_proxy_tcp_connections_total{") }
            #expect(accepted == ["disco_proxy_tcp_connections_total{listener=\"\(spec)\"} 1"], "only the client's: \(text)")
        }
    }
}
