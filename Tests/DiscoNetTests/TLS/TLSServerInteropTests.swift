import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// Our HTTPS server against real TLS clients: curl and `openssl s_client`.
@Suite("TLS server against curl and openssl s_client")
struct TLSServerInteropTests {
    @Test func curlSpeaksTLS12AndTLS13WithALPN() async throws {
        let certificates = try await TLSTestCertificates.get()
        try await withTLSServer(certificates.serverTLS()) { server, store in
            for (flags, version) in [(["--tlsv1.2", "--tls-max", "1.2"], "TLSv1.2"), (["--tlsv1.3"], "TLSv1.3")] {
                let result = try await curl(["-v", "--cacert", certificates.caFile] + flags + [httpsURL(server, "/hello")])
                #expect(result.status == 0, "\(result.output)")
                #expect(result.output.contains("GET /hello"))
                #expect(result.output.contains("SSL connection using \(version)"), "\(result.output)")
                #expect(result.output.contains("ALPN: server accepted http/1.1"), "\(result.output)")
                #expect(result.output.contains("SSL certificate verify ok"), "\(result.output)")
            }
            // The name in the certificate (localhost) verifies as well as the IP.
            let byName = try await curl(["--cacert", certificates.caFile, httpsURL(server, "/named", host: "localhost")])
            #expect(byName.status == 0 && byName.output.contains("GET /named"), "\(byName.output)")
            #expect(store.current.handshakesCompleted >= 3)
        }
    }

    @Test func curlWithoutTheCAIsRefusedByCurl() async throws {
        let certificates = try await TLSTestCertificates.get()
        try await withTLSServer(certificates.serverTLS()) { server, _ in
            let result = try await curl([httpsURL(server)])
            #expect(result.status == 60, "curl verifies against the system CAs and must refuse: \(result.output)")
        }
    }

    @Test func openSSLClientSeesALPNAndResumesSessions() async throws {
        let certificates = try await TLSTestCertificates.get()
        let directory = certificates.fixture.directory
        try await withTLSServer(certificates.serverTLS()) { server, store in
            let connect = ["s_client", "-connect", "127.0.0.1:\(server.localAddress.port)", "-CAfile", certificates.caFile,
                           "-alpn", "http/1.1"]
            for version in ["-tls1_2", "-tls1_3"] {
                let session = "\(directory)/session\(version).pem"
                let first = try await opensslWithRequest(connect + [version, "-sess_out", session])
                #expect(first.output.contains("ALPN protocol: http/1.1"), "\(first.output)")
                #expect(first.output.contains("Verify return code: 0 (ok)"), "\(first.output)")
                #expect(first.output.contains("New, TLSv1."), "\(first.output)")
                let second = try await opensslWithRequest(connect + [version, "-sess_in", session])
                #expect(second.output.contains("Reused, TLSv1."), "the server did not resume: \(second.output)")
            }
            // TLS 1.2 with s_client's own reconnect loop: five reconnections, all resumed.
            let reconnect = try await openssl(connect + ["-tls1_2", "-reconnect"])
            #expect(reconnect.output.components(separatedBy: "Reused, TLSv1.2").count - 1 == 5, "\(reconnect.output)")
            // The server counts a resumption when it reads the client's last handshake message,
            // which may be after the client has already exited.
            try await waitUntil("the server to count seven resumed sessions") { store.current.sessionsResumed >= 7 }
        }
    }

    /// A client whose ALPN list shares nothing with ours (a gRPC or HTTP/2-only client offering
    /// `h2` alone) is refused in the handshake with `no_application_protocol` (RFC 7301, as nginx
    /// and Go do), not let in to send an HTTP/2 preface to an HTTP/1.1 server. Without ALPN, or
    /// with `http/1.1` among others, the handshake goes on.
    @Test func aClientOfferingOnlyH2IsRefusedWithNoApplicationProtocol() async throws {
        let certificates = try await TLSTestCertificates.get()
        let (logger, lines) = capturingLogger()
        try await withTLSServer(certificates.serverTLS(logger: logger)) { server, _ in
            let connect = ["s_client", "-connect", "127.0.0.1:\(server.localAddress.port)", "-CAfile", certificates.caFile]
            let onlyH2 = try await opensslWithRequest(connect + ["-alpn", "h2"])
            #expect(onlyH2.output.contains("no application protocol"), "\(onlyH2.output)")
            #expect(!onlyH2.output.contains("HTTP/1.1"), "\(onlyH2.output)")
            try await waitUntil("the refusal naming what the client offered") {
                logContains(lines, "refused", "offered only h2", "this side speaks http/1.1")
            }
            let both = try await opensslWithRequest(connect + ["-alpn", "h2,http/1.1"])
            #expect(both.output.contains("ALPN protocol: http/1.1") && both.output.contains("HTTP/1.1 200"), "\(both.output)")
            let none = try await opensslWithRequest(connect)
            #expect(none.output.contains("No ALPN negotiated") && none.output.contains("HTTP/1.1 200"), "\(none.output)")
            let viaCurl = try await curl(["--http2", "--cacert", certificates.caFile, httpsURL(server, "/h2")])
            #expect(viaCurl.status == 0 && viaCurl.output.contains("GET /h2"), "\(viaCurl.output)")
        }
    }

    @Test func clientCertificatesAreRequiredAndVerified() async throws {
        let certificates = try await TLSTestCertificates.get()
        let (logger, lines) = capturingLogger()
        try await withTLSServer(certificates.serverTLS(verifyClients: true, logger: logger)) { server, _ in
            let base = ["--cacert", certificates.caFile]
            let accepted = try await curl(base + ["--cert", certificates.client.certificate, "--key", certificates.client.key,
                                                  httpsURL(server, "/mtls")])
            #expect(accepted.status == 0 && accepted.output.contains("GET /mtls"), "\(accepted.output)")

            let without = try await curl(base + [httpsURL(server, "/none")])
            #expect(without.status != 0 && !without.output.contains("GET /none"), "\(without.output)")
            try await waitUntil("the refusal of a client without a certificate to be logged") {
                logContains(lines, "sent no certificate", "Disco Test CA")
            }

            let stranger = try await curl(base + ["--cert", certificates.otherCA.certificate, "--key", certificates.otherCA.key,
                                                  httpsURL(server, "/stranger")])
            #expect(stranger.status != 0 && !stranger.output.contains("GET /stranger"), "\(stranger.output)")
            try await waitUntil("the refusal naming the stranger's subject, its CA and ours") {
                logContains(lines, "refused", "CN=stranger", "CN=Other Test CA", "this side trusts \\\"CN=Disco Test CA\\\"")
            }

            let expired = try await curl(base + ["--cert", certificates.expired.certificate, "--key", certificates.expired.key,
                                                 httpsURL(server, "/expired")])
            #expect(expired.status != 0, "\(expired.output)")
            try await waitUntil("the refusal of an expired client certificate to be logged") {
                logContains(lines, "certificate has expired", "CN=expired-node")
            }
        }
    }

    /// A large CA bundle (`-http-ca-cert` pointing at the system's, 140 CAs) must not put every
    /// CA's name in each refusal line: the first few are named and the rest counted.
    @Test func aRefusalWithALargeCABundleNamesAFewCAsAndCountsTheRest() async throws {
        let certificates = try await TLSTestCertificates.get()
        let fixture = certificates.fixture
        let bundle = try fixture.bundle(of: [fixture.ca, certificates.server, certificates.client, certificates.expired,
                                             certificates.notYetValid, certificates.wrongHost, fixture.otherCA],
                                        file: "large-bundle-\(UUID().uuidString.prefix(6)).pem")
        let (logger, lines) = capturingLogger()
        var tls = certificates.serverTLS(verifyClients: true, logger: logger)
        tls.trustRoots = .pem(.file(bundle))
        try await withTLSServer(tls) { server, _ in
            let refused = try await curl(["--cacert", certificates.caFile, httpsURL(server, "/none")])
            #expect(refused.status != 0, "\(refused.output)")
            try await waitUntil("the refusal of a client without a certificate to be logged") {
                logContains(lines, "sent no certificate")
            }
            #expect(logContains(lines, "sent no certificate", "CN=Disco Test CA", "CN=node2", "and 4 more in \(bundle)"), "\(lines.lines)")
            #expect(!logContains(lines, "CN=future-node"), "\(lines.lines)")
        }
    }

    /// A client certificate issued for servers only (`extendedKeyUsage=serverAuth`, a common
    /// mistake with -http-verify-client): the refusal says which usage it lacks.
    @Test func aClientCertificateWithoutClientAuthIsRefusedNamingTheMissingUsage() async throws {
        let certificates = try await TLSTestCertificates.get()
        let fixture = certificates.fixture
        let base = fixture.directory + "/server-only-\(UUID().uuidString.prefix(6))"
        try "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n".write(toFile: base + ".ext", atomically: true, encoding: .utf8)
        let request = try await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=server-only",
                                         "-keyout", base + ".key", "-out", base + ".csr"])
        #expect(request.status == 0, "\(request.output)")
        let signed = try await openssl(["x509", "-req", "-in", base + ".csr", "-CA", fixture.ca.certificate, "-CAkey", fixture.ca.key,
                                        "-CAcreateserial", "-CAserial", base + ".srl", "-days", "30", "-extfile", base + ".ext", "-out", base + ".pem"])
        #expect(signed.status == 0, "\(signed.output)")
        let (logger, lines) = capturingLogger()
        try await withTLSServer(certificates.serverTLS(verifyClients: true, logger: logger)) { server, _ in
            let refused = try await curl(["--cacert", certificates.caFile, "--cert", base + ".pem", "--key", base + ".key", httpsURL(server, "/eku")])
            #expect(refused.status != 0 && !refused.output.contains("GET /eku"), "\(refused.output)")
            try await waitUntil("the refusal naming the missing usage") { logContains(lines, "CN=server-only", "certificate purpose") }
            #expect(logContains(lines, "CN=server-only", "its extended key usage lacks clientAuth"), "\(lines.lines)")
        }
    }

    @Test func plainHTTPOnTheTLSPortIsAnswered400() async throws {
        let certificates = try await TLSTestCertificates.get()
        try await withTLSServer(certificates.serverTLS()) { server, _ in
            let client = try RawSocketClient(connectTo: server.localAddress)
            try client.send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 400)
            #expect(response.bodyText.contains("plain HTTP request was sent to an HTTPS port"))
            #expect(response.header("Connection") == "close")
            #expect(try await client.readUntilClose().isEmpty)

            let viaCurl = try await curl(["http://127.0.0.1:\(server.localAddress.port)/"])
            #expect(viaCurl.output.contains("plain HTTP request was sent to an HTTPS port"), "\(viaCurl.output)")
        }
    }

    @Test func bytesThatAreNotTLSAreClosed() async throws {
        let certificates = try await TLSTestCertificates.get()
        let (logger, lines) = capturingLogger()
        try await withTLSServer(certificates.serverTLS(logger: logger)) { server, _ in
            let client = try RawSocketClient(connectTo: server.localAddress)
            try client.send([0x00, 0x00, 0x00, 0x10, 0x01, 0x02])
            #expect(try await client.readUntilClose().isEmpty)
            try await waitUntil("the non-TLS bytes to be logged") { logContains(lines, "not TLS", "first bytes 0 0 0 10") }
        }
    }

    @Test func stalledHandshakesAreTimedOut() async throws {
        let certificates = try await TLSTestCertificates.get()
        let (logger, lines) = capturingLogger()
        var tls = certificates.serverTLS(logger: logger)
        tls.handshakeTimeout = .milliseconds(300)
        try await withTLSServer(tls) { server, store in
            // Silent after connecting.
            let silent = try RawSocketClient(connectTo: server.localAddress)
            #expect(try await silent.readUntilClose().isEmpty)
            // A ClientHello record header promising bytes that never come.
            let partial = try RawSocketClient(connectTo: server.localAddress)
            try partial.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            #expect(try await partial.readUntilClose().isEmpty)
            try await waitUntil("both timeouts to be logged") {
                logContains(lines, "sent nothing within 0.3 seconds") && logContains(lines, "did not finish the TLS handshake within 0.3 seconds")
            }
            #expect(store.current.handshakesFailed >= 2)
        }
    }
}
