import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing

/// Failed handshakes behind an HTTP server with its default timings are counted (the count
/// `/status` and `disco_tls_handshakes_total{result="failed"}` show) and logged.
@Suite("TLS failures are counted behind the HTTP server")
struct TLSFailureAccountingTests {
    /// The HTTP server's header deadline equals the handshake timeout (10 s each by default):
    /// the TLS timeout must still be the one that ends a stalled handshake, so it is logged and
    /// counted instead of the connection being closed silently.
    @Test func stalledHandshakeIsCountedWhenTheHeaderTimeoutIsTheSame() async throws {
        let certificates = try await TLSTestCertificates.get()
        let (logger, lines) = capturingLogger()
        var tls = certificates.serverTLS(logger: logger)
        tls.handshakeTimeout = .milliseconds(400)
        let store = try TLSContextStore(server: tls)
        var configuration = HTTPServerConfiguration()
        configuration.transport = TLSTransportFactory(store)
        configuration.headerReadTimeout = .milliseconds(400)
        try await withServer(configuration) { server in
            let partial = try RawSocketClient(connectTo: server.localAddress)
            try partial.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            #expect(try await partial.readUntilClose().isEmpty)
            try await waitUntil("the stalled handshake to be logged and counted") {
                logContains(lines, "did not finish the TLS handshake") && store.current.handshakesFailed >= 1
            }
        }
    }

    /// Plain HTTP on the TLS port is a failed handshake too (as the counter documents).
    @Test func plaintextOnTheTLSPortIsCounted() async throws {
        let certificates = try await TLSTestCertificates.get()
        try await withTLSServer(certificates.serverTLS()) { server, store in
            let client = try RawSocketClient(connectTo: server.localAddress)
            try client.send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().status == 400)
            try await waitUntil("the plaintext request to be counted") { store.current.handshakesFailed >= 1 }
        }
    }
}
