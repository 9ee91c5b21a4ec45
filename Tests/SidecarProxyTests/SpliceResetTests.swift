import DiscoCore
import DiscoNet
import DiscoTestKit
import Glibc
import Sidecar
import SidecarProxy
import Synchronization
import Testing

/// A spliced connection whose client has gone is released even while the upstream says nothing.
@Suite("Sidecar proxy: a TCP pass-through client that resets after its half-close")
struct SpliceResetTests {
    /// The client sends its request, half-closes, and then resets the connection (it gave up)
    /// while the upstream, having read to the end, is silent. The proxy used to notice the reset
    /// only when the upstream next sent something: the splice, the upstream connection and the
    /// max-conns slot stayed taken for as long as the upstream kept quiet.
    @Test func aResetAfterAHalfCloseReleasesTheConnection() async throws {
        let listener = try await TCPListener.bind()
        let sawEnd = AcceptCount()
        let upstreamTask = Task {
            await withDiscardingTaskGroup { group in
                while let connection = try? await listener.accept() {
                    group.addTask {
                        while let piece = try? await connection.read(), !piece.isEmpty {}
                        sawEnd.value.add(1, ordering: .relaxed)
                        // Silent from here on, and open until the proxy lets go.
                        try? await Task.sleep(for: .seconds(3600))
                        connection.close()
                    }
                }
                group.cancelAll()
            }
        }
        var configuration = proxyConfiguration([])
        configuration.listenAddress = nil
        configuration.tcpProxies = [TCPProxySpec(listen: PeerAddress(host: "127.0.0.1", port: 0),
                                                 upstream: PeerAddress(host: "127.0.0.1", port: listener.localAddress.port), maxConnections: 1)]
        try await withProxy(configuration) { proxy in
            let tcp = try #require(proxy.tcpListeners.first)
            do {
                let raw = try RawSocketClient(connectTo: tcp.localAddress, timeoutSeconds: 20)
                try raw.send("request")
                raw.shutdownWrite()
                try await waitUntil("the upstream to read the request to its end") { sawEnd.value.load(ordering: .relaxed) == 1 }
                // Closing with SO_LINGER 0 resets the connection.
                var reset = linger(l_onoff: 1, l_linger: 0)
                setsockopt(raw.fd, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
            }
            try await waitUntil("the proxy to release the connection", timeout: .seconds(60)) { tcp.openConnections == 0 }
        }
        listener.close()
        upstreamTask.cancel()
        await upstreamTask.value
    }
}
