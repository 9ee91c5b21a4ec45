import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing

/// Connecting over TLS includes the handshake: a server that accepts and then stalls is a
/// connect timeout after the client's connect timeout (a proxy answers 504, as nginx does when
/// its upstream's handshake outlasts `proxy_connect_timeout`), not a failure after the TLS
/// handshake timeout.
@Suite("TLS connect timeout")
struct TLSConnectTimeoutTests {
    @Test func aStalledHandshakeIsAConnectTimeoutWithinTheConnectTimeout() async throws {
        let certificates = try await TLSTestCertificates.get()
        // A TCP server that accepts and never answers (a frozen or overloaded peer).
        let listener = try await TCPListener.bind()
        defer { listener.close() }
        let accepting = Task { try await listener.accept() }
        let store = try TLSContextStore(client: certificates.clientTLS())  // handshake timeout: 10 s
        let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .milliseconds(300), requestTimeout: .seconds(60),
                                                                       httpsTransport: TLSTransportFactory(store)))
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.send(HTTPClientRequest(url: "https://127.0.0.1:\(listener.localAddress.port)/"))
        }
        #expect(error?.code == .connectTimeout, "\(String(describing: error))")
        _ = try await accepting.value
        await client.shutdown()
    }
}
