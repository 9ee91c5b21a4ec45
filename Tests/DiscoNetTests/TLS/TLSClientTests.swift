import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// Our HTTPS client against `openssl s_server` and against our server with certificates that
/// must be refused.
@Suite("TLS client")
struct TLSClientTests {
    @Test func fetchesFromOpenSSLServer() async throws {
        let certificates = try await TLSTestCertificates.get()
        let port = try FreePort.loopback()
        let server = ChildProcess(name: "openssl s_server", executable: CertificateFixture.openssl, arguments: [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", certificates.server.certificate, "-key", certificates.server.key,
            "-www", "-alpn", "http/1.1",
        ])
        try server.start()
        defer { server.send(SIGKILL) }
        try await server.waitForOutput(containing: "ACCEPT")
        let (client, store) = try tlsClient(certificates.clientTLS())
        for _ in 0..<2 {
            let response = try await client.send(HTTPClientRequest(url: "https://127.0.0.1:\(port)/"))
            #expect(response.status == 200)
            // s_server -www answers with a page describing the session it negotiated.
            #expect(response.bodyText.contains("s_server"), "\(response.bodyText.prefix(300))")
            #expect(response.bodyText.contains("TLSv1.3"))
        }
        #expect(store.current.handshakesCompleted >= 1)
        await client.shutdown()
    }

    @Test func resumesSessionsOnNewConnections() async throws {
        let certificates = try await TLSTestCertificates.get()
        try await withTLSServer(certificates.serverTLS()) { server, serverStore in
            let clientStore = try TLSContextStore(client: certificates.clientTLS())
            for round in 0..<3 {
                // A new client (and so a new connection) each time, sharing the session cache.
                let client = HTTPClient(configuration: HTTPClientConfiguration(httpsTransport: TLSTransportFactory(clientStore)))
                let response = try await client.send(HTTPClientRequest(url: httpsURL(server, "/r\(round)")))
                #expect(response.bodyText == "GET /r\(round)")
                await client.shutdown()
            }
            #expect(serverStore.current.handshakesCompleted == 3)
            #expect(serverStore.current.sessionsResumed == 2, "the second and third connections resume the first session")
            #expect(clientStore.current.sessionsResumed == 2)
        }
    }

    @Test func largeBodiesCrossBothWays() async throws {
        let certificates = try await TLSTestCertificates.get()
        let size = 3 << 20
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        try await withTLSServer(certificates.serverTLS(), handler: { request in
            HTTPResponse(status: 200, bytes: request.body.reversed())
        }) { server, _ in
            let (client, _) = try tlsClient(certificates.clientTLS())
            let response = try await client.send(HTTPClientRequest(method: "POST", url: httpsURL(server, "/big"), body: payload))
            #expect(response.status == 200)
            #expect(response.body.count == size)
            #expect(response.body == payload.reversed())
            await client.shutdown()
        }
    }

    @Test(arguments: [
        ("expired", "certificate has expired"),
        ("notYetValid", "certificate is not yet valid"),
        ("wrongHost", "is not valid for 127.0.0.1"),
        ("otherCA", "unable to get local issuer certificate"),
    ])
    func refusesServersWithBadCertificates(which: String, reason: String) async throws {
        let certificates = try await TLSTestCertificates.get()
        let credential = switch which {
        case "expired": certificates.expired
        case "notYetValid": certificates.notYetValid
        case "wrongHost": certificates.wrongHost
        default: certificates.otherCA
        }
        try await withTLSServer(certificates.serverTLS(credential)) { server, _ in
            let (client, _) = try tlsClient(certificates.clientTLS())
            let error = await #expect(throws: HTTPClientError.self) {
                _ = try await client.send(HTTPClientRequest(url: httpsURL(server, "/")))
            }
            #expect(error?.code == .connectFailed)
            #expect(error?.description.contains(reason) == true, "\(String(describing: error))")
            #expect(error?.description.contains("CN=\(credential.commonName)") == true, "\(String(describing: error))")
            // Without verification (-insecure) the same server is accepted.
            let (insecure, _) = try tlsClient(certificates.clientTLS(verify: false))
            let response = try await insecure.send(HTTPClientRequest(url: httpsURL(server, "/insecure")))
            #expect(response.bodyText == "GET /insecure")
            await client.shutdown()
            await insecure.shutdown()
        }
    }

    @Test func aChainWithAnIntermediateVerifiesAgainstTheRootAlone() async throws {
        let fixture = try await CertificateFixture.make(name: "tls-chain")
        try await fixture.makeIntermediate()
        let leaf = try await fixture.issue("chained", by: .intermediate)
        let chained = TLSConfiguration.server(certificateChain: .file(try fixture.chain(leaf)), privateKey: .file(leaf.key))
        let rootOnly = TLSConfiguration.client(trustRoots: .pem(.file(fixture.ca.certificate)))
        try await withTLSServer(chained) { server, store in
            #expect(store.current.certificateSubject == "CN=chained")
            let (client, _) = try tlsClient(rootOnly)
            #expect(try await client.send(HTTPClientRequest(url: httpsURL(server, "/chain"))).bodyText == "GET /chain")
            let seen = try await openssl(["s_client", "-connect", "127.0.0.1:\(server.localAddress.port)", "-CAfile", fixture.ca.certificate])
            #expect(seen.output.contains("Verify return code: 0 (ok)"), "\(seen.output)")
            #expect(seen.output.contains("CN = Disco Intermediate CA"), "\(seen.output)")
            await client.shutdown()
        }
        // The leaf alone (no intermediate) cannot be verified by a client that trusts only the root.
        let leafOnly = TLSConfiguration.server(certificateChain: .file(leaf.certificate), privateKey: .file(leaf.key))
        try await withTLSServer(leafOnly) { server, _ in
            let (client, _) = try tlsClient(rootOnly)
            let error = await #expect(throws: HTTPClientError.self) {
                _ = try await client.send(HTTPClientRequest(url: httpsURL(server, "/")))
            }
            #expect(error?.description.contains("unable to get local issuer certificate") == true, "\(String(describing: error))")
            await client.shutdown()
        }
    }

    /// `-node-ca-cert`/`-http-ca-cert` name "the CA that signs the certificates": when that is
    /// an intermediate CA, trusting it alone is enough (as Go's crypto/tls, which rqlite, etcd
    /// and Consul use, and curl do), on both sides of mutual TLS.
    @Test func anIntermediateCATrustedAloneVerifiesTheCertificatesItSigned() async throws {
        let fixture = try await CertificateFixture.make(name: "tls-intermediate-anchor")
        let intermediate = try await fixture.makeIntermediate()
        let serverLeaf = try await fixture.issue("signed-by-intermediate", by: .intermediate)
        let clientLeaf = try await fixture.issue("client-by-intermediate", by: .intermediate)
        var server = TLSConfiguration.server(certificateChain: .file(try fixture.chain(serverLeaf)), privateKey: .file(serverLeaf.key))
        server.trustRoots = .pem(.file(intermediate.certificate))
        server.verifyPeer = true
        var client = TLSConfiguration.client(trustRoots: .pem(.file(intermediate.certificate)))
        client.certificateChain = .file(try fixture.chain(clientLeaf))
        client.privateKey = .file(clientLeaf.key)
        try await withTLSServer(server) { server, _ in
            let (https, _) = try tlsClient(client)
            let response = try await https.send(HTTPClientRequest(url: httpsURL(server, "/anchor")))
            #expect(response.bodyText == "GET /anchor")
            await https.shutdown()
        }
        // A certificate from another CA is still refused.
        let stranger = try await fixture.issue("stranger", by: .other)
        var strangerClient = TLSConfiguration.client(trustRoots: .pem(.file(intermediate.certificate)))
        strangerClient.certificateChain = .file(stranger.certificate)
        strangerClient.privateKey = .file(stranger.key)
        try await withTLSServer(server) { server, _ in
            let (https, _) = try tlsClient(strangerClient)
            await #expect(throws: (any Error).self) {
                _ = try await https.send(HTTPClientRequest(url: httpsURL(server, "/stranger")))
            }
            await https.shutdown()
        }
    }

    @Test func stalledServerHandshakeTimesOut() async throws {
        let certificates = try await TLSTestCertificates.get()
        // A TCP server that accepts and never answers.
        let listener = try await TCPListener.bind()
        defer { listener.close() }
        let accepting = Task { try await listener.accept() }
        var tls = certificates.clientTLS()
        tls.handshakeTimeout = .milliseconds(300)
        let (client, _) = try tlsClient(tls)
        let error = await #expect(throws: HTTPClientError.self) {
            _ = try await client.send(HTTPClientRequest(url: "https://127.0.0.1:\(listener.localAddress.port)/"))
        }
        #expect(error?.description.contains("TLS handshake timed out") == true, "\(String(describing: error))")
        _ = try await accepting.value
        await client.shutdown()
    }
}
