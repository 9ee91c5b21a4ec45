import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Synchronization
import Testing

/// Loading and reloading certificates: errors that name the file, rotation under load, a
/// broken rotation that keeps the old certificate, and Kubernetes-style symlink swaps.
@Suite("TLS credentials: loading and reloading")
struct TLSReloadTests {
    // MARK: Loading

    @Test func loadErrorsNameTheFile() async throws {
        let certificates = try await TLSTestCertificates.get()
        let directory = certificates.fixture.directory
        let garbage = directory + "/garbage.pem"
        try "this is not PEM\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let server = certificates.server
        let cases: [(PEMSource, PEMSource, TLSError.Code, String)] = [
            (.file(directory + "/missing.pem"), .file(server.key), .unreadableFile, "missing.pem: cannot open: No such file"),
            (.file(garbage), .file(server.key), .badPEM, "garbage.pem: no PEM certificate found"),
            (.file(server.key), .file(server.key), .badPEM, "this file holds a private key"),
            (.file(server.certificate), .file(server.certificate), .badPEM, "no PEM private key found"),
            (.file(server.certificate), .file(certificates.client.key), .keyMismatch, "does not match the certificate CN=node1"),
        ]
        for (chain, key, code, fragment) in cases {
            let error = #expect(throws: TLSError.self) {
                _ = try TLSContextStore(server: .server(certificateChain: chain, privateKey: key))
            }
            #expect(error?.code == code, "\(String(describing: error))")
            #expect(error?.description.contains(fragment) == true, "\(String(describing: error)) should contain \(fragment)")
        }
        let badCA = #expect(throws: TLSError.self) {
            _ = try TLSContextStore(client: .client(trustRoots: .pem(.file(garbage))))
        }
        #expect(badCA?.description.contains("garbage.pem") == true)
    }

    /// A certificate OpenSSL will not present (a 512-bit RSA key is below every security level):
    /// the error names the file as the certificate (the `-http-cert` flag) and says what to issue instead.
    @Test func aCertificateWithAKeyTooSmallIsNamedWithWhatToIssue() async throws {
        let fixture = try await CertificateFixture.make(name: "tls-weak-key")
        defer { fixture.remove() }
        let base = fixture.directory + "/weak"
        let made = try await openssl(["req", "-x509", "-newkey", "rsa:512", "-nodes", "-days", "30", "-subj", "/CN=weak-key",
                                      "-keyout", base + ".key", "-out", base + ".pem"])
        #expect(made.status == 0, "\(made.output)")
        let error = #expect(throws: TLSError.self) {
            _ = try TLSContextStore(server: .server(certificateChain: .file(base + ".pem"), privateKey: .file(base + ".key")))
        }
        let description = error?.description ?? ""
        #expect(error?.role == .certificateChain, "the certificate file is what to fix: \(description)")
        #expect(description.contains("weak.pem") && description.contains("CN=weak-key"), "\(description)")
        #expect(description.contains("its key is too small for OpenSSL's security level"), "\(description)")
        #expect(description.contains("RSA keys of at least"), "\(description)")
        #expect(description.contains("EC key"), "\(description)")
    }

    /// Binary files given where PEM is read (a DER certificate or key, a PKCS#12 bundle, as
    /// Windows and Java tools export them): the error says what the file is and how to convert it.
    @Test func binaryCertificatesAndKeysAreNamedWithTheConversion() async throws {
        let certificates = try await TLSTestCertificates.get()
        let server = certificates.server
        let base = certificates.fixture.directory + "/binary-\(UUID().uuidString.prefix(6))"
        for arguments in [["x509", "-in", server.certificate, "-outform", "der", "-out", base + ".der"],
                          ["pkey", "-in", server.key, "-outform", "der", "-out", base + "-key.der"],
                          ["pkcs12", "-export", "-in", server.certificate, "-inkey", server.key, "-passout", "pass:", "-out", base + ".p12"]] {
            let made = try await openssl(arguments)
            #expect(made.status == 0, "\(made.output)")
        }
        let cases: [(PEMSource, PEMSource, String)] = [
            (.file(base + ".der"), .file(server.key), "holds a DER (binary) certificate; convert it to PEM: openssl x509 -inform der -in \(base).der -out"),
            (.file(server.certificate), .file(base + "-key.der"), "holds a DER (binary) private key; convert it to PEM: openssl pkey -inform der -in \(base)-key.der -out"),
            (.file(base + ".p12"), .file(server.key), "holds a PKCS#12 bundle; convert it to PEM: openssl pkcs12 -in \(base).p12 -nodes -out"),
        ]
        for (chain, key, fragment) in cases {
            let error = #expect(throws: TLSError.self) {
                _ = try TLSContextStore(server: .server(certificateChain: chain, privateKey: key))
            }
            #expect(error?.description.contains(fragment) == true, "\(String(describing: error)) should contain \(fragment)")
        }
    }

    /// The intermediate first and the leaf second (`cat intermediate.pem leaf.pem`): the key
    /// matches the second certificate, and the error says to put the leaf first.
    @Test func aChainWithTheLeafNotFirstIsNamedAsOutOfOrder() async throws {
        let fixture = try await CertificateFixture.make(name: "tls-chain-order")
        defer { fixture.remove() }
        let intermediate = try await fixture.makeIntermediate()
        let leaf = try await fixture.issue("chained", by: .intermediate)
        let reversed = fixture.directory + "/reversed.pem"
        let text = try String(contentsOfFile: intermediate.certificate, encoding: .utf8) + String(contentsOfFile: leaf.certificate, encoding: .utf8)
        try text.write(toFile: reversed, atomically: true, encoding: .utf8)
        let error = #expect(throws: TLSError.self) {
            _ = try TLSContextStore(server: .server(certificateChain: .file(reversed), privateKey: .file(leaf.key)))
        }
        let description = error?.description ?? ""
        #expect(error?.role == .certificateChain, "the chain file is what to fix: \(description)")
        #expect(description.contains("reversed.pem"), "\(description)")
        #expect(description.contains("out of order"), "\(description)")
        #expect(description.contains("certificate 2 of 2 (CN=chained)"), "\(description)")
        #expect(description.contains("put the leaf first"), "\(description)")
        // In the right order the same files load.
        let ordered = try TLSContextStore(server: .server(certificateChain: .file(try fixture.chain(leaf)), privateKey: .file(leaf.key)))
        #expect(ordered.current.certificateSubject == "CN=chained")
    }

    // MARK: Reloading

    @Test func rotationUnderLoadFailsNoRequestAndNewConnectionsSeeTheNewCertificate() async throws {
        let certificates = try await TLSTestCertificates.get()
        let live = try LiveCredentials(certificates.server, in: certificates.fixture.directory + "/live-\(UUID().uuidString.prefix(6))")
        let tls = TLSConfiguration.server(certificateChain: .file(live.certificate), privateKey: .file(live.key))
        try await withTLSServer(tls) { server, store in
            let (keepAlive, _) = try tlsClient(certificates.clientTLS())
            let (fresh, _) = try tlsClient(certificates.clientTLS())
            let failures = Mutex<[String]>([])
            let completed = Mutex(0)
            let stop = Mutex(false)
            let load = Task {
                while !stop.withLock({ $0 }) {
                    for client in [keepAlive, fresh] {
                        var request = HTTPClientRequest(url: httpsURL(server, "/load"))
                        if client === fresh { request.headers.add(name: "Connection", value: "close") }
                        do {
                            let response = try await client.send(request)
                            if response.bodyText != "GET /load" { failures.withLock { $0.append("answer \(response.status)") } }
                            completed.withLock { $0 += 1 }
                        } catch {
                            failures.withLock { $0.append("\(error)") }
                        }
                    }
                }
            }
            for round in 1...3 {
                let before = completed.withLock { $0 }
                try await waitUntil("requests before rotation \(round)") { completed.withLock { $0 } >= before + 20 }
                let next = try await certificates.fixture.issue("rotated\(round)")
                try live.replace(with: next)
                guard case .reloaded(let context) = store.reloadIfChanged() else {
                    Issue.record("rotation \(round) was not noticed")
                    break
                }
                #expect(context.certificateSubject == "CN=rotated\(round)")
                let after = completed.withLock { $0 }
                try await waitUntil("requests after rotation \(round)") { completed.withLock { $0 } >= after + 20 }
                let seen = try await openssl(["s_client", "-connect", "127.0.0.1:\(server.localAddress.port)", "-CAfile", certificates.caFile])
                #expect(seen.output.contains("subject=CN = rotated\(round)"), "\(seen.output)")
            }
            stop.withLock { $0 = true }
            _ = await load.value
            #expect(failures.withLock { $0 }.isEmpty, "failed requests: \(failures.withLock { $0 }.prefix(5))")
            // The keep-alive client kept its first connection through every reload.
            #expect(await keepAlive.connectionsOpened == 1)
            #expect(store.reloadIfChanged().isUnchanged)
            await keepAlive.shutdown()
            await fresh.shutdown()
        }
    }

    @Test func aBrokenNewCertificateKeepsTheOldOneServing() async throws {
        let certificates = try await TLSTestCertificates.get()
        let live = try LiveCredentials(certificates.server, in: certificates.fixture.directory + "/broken-\(UUID().uuidString.prefix(6))")
        let tls = TLSConfiguration.server(certificateChain: .file(live.certificate), privateKey: .file(live.key))
        try await withTLSServer(tls) { server, store in
            // Half a rotation: a new certificate whose key has not arrived yet.
            let next = try await certificates.fixture.issue("half-rotated")
            try FileManager.default.removeItem(atPath: live.certificate)
            try FileManager.default.copyItem(atPath: next.certificate, toPath: live.certificate)
            let outcome = store.reloadIfChanged()
            guard case .failed(let error) = outcome else {
                Issue.record("expected a failed reload, got \(outcome)")
                return
            }
            #expect(error.code == .keyMismatch)
            #expect(outcome.description.contains("still serving the previous certificate"))
            #expect(store.current.certificateSubject == "CN=node1")
            // Not retried until the files change again.
            #expect(store.reloadIfChanged().isUnchanged)
            let (client, _) = try tlsClient(certificates.clientTLS())
            #expect(try await client.send(HTTPClientRequest(url: httpsURL(server, "/still"))).bodyText == "GET /still")
            // The key arrives: the next check completes the rotation.
            try FileManager.default.removeItem(atPath: live.key)
            try FileManager.default.copyItem(atPath: next.key, toPath: live.key)
            guard case .reloaded(let context) = store.reloadIfChanged() else {
                Issue.record("the completed rotation was not loaded")
                return
            }
            #expect(context.certificateSubject == "CN=half-rotated")
            await client.shutdown()
        }
    }

    @Test func kubernetesSecretSymlinkSwapIsNoticedAndTicketsSurvive() async throws {
        let certificates = try await TLSTestCertificates.get()
        let root = certificates.fixture.directory + "/secret-\(UUID().uuidString.prefix(6))"
        let manager = FileManager.default
        func publish(_ credential: CertificateFixture.Credential, version: String) throws {
            let versioned = root + "/..\(version)"
            try manager.createDirectory(atPath: versioned, withIntermediateDirectories: true)
            try manager.copyItem(atPath: credential.certificate, toPath: versioned + "/tls.crt")
            try manager.copyItem(atPath: credential.key, toPath: versioned + "/tls.key")
            try manager.createSymbolicLink(atPath: root + "/..data_tmp", withDestinationPath: "..\(version)")
            guard rename(root + "/..data_tmp", root + "/..data") == 0 else { throw POSIXError(.EIO) }
        }
        try manager.createDirectory(atPath: root, withIntermediateDirectories: true)
        try publish(certificates.server, version: "v1")
        try manager.createSymbolicLink(atPath: root + "/tls.crt", withDestinationPath: "..data/tls.crt")
        try manager.createSymbolicLink(atPath: root + "/tls.key", withDestinationPath: "..data/tls.key")

        let tls = TLSConfiguration.server(certificateChain: .file(root + "/tls.crt"), privateKey: .file(root + "/tls.key"))
        try await withTLSServer(tls) { server, store in
            let session = root + "/session.pem"
            let connect = ["s_client", "-connect", "127.0.0.1:\(server.localAddress.port)", "-CAfile", certificates.caFile, "-tls1_3"]
            _ = try await opensslWithRequest(connect + ["-sess_out", session])
            #expect(store.reloadIfChanged().isUnchanged)
            try publish(try await certificates.fixture.issue("secret-v2"), version: "v2")
            guard case .reloaded(let context) = store.reloadIfChanged() else {
                Issue.record("the symlink swap was not noticed")
                return
            }
            #expect(context.certificateSubject == "CN=secret-v2")
            // A ticket from before the rotation still resumes.
            let resumed = try await opensslWithRequest(connect + ["-sess_in", session])
            #expect(resumed.output.contains("Reused, TLSv1.3"), "\(resumed.output)")
        }
    }

    @Test(arguments: ["-tls1_3", "-tls1_2"])
    func aClientCASwapLetsNoSessionFromBeforeItResume(version: String) async throws {
        let certificates = try await TLSTestCertificates.get()
        let root = certificates.fixture.directory + "/ca-swap-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let trusted = root + "/ca.pem"
        try FileManager.default.copyItem(atPath: certificates.caFile, toPath: trusted)
        var tls = certificates.serverTLS(verifyClients: true)
        tls.trustRoots = .pem(.file(trusted))
        try await withTLSServer(tls) { server, store in
            let session = root + "/session.pem"
            let connect = ["s_client", "-connect", "127.0.0.1:\(server.localAddress.port)", "-CAfile", certificates.caFile, version]
            let first = try await opensslWithRequest(connect + ["-cert", certificates.client.certificate, "-key", certificates.client.key,
                                                               "-sess_out", session])
            #expect(first.output.contains("HTTP/1.1 200"), "\(first.output)")
            // The same CAs written again: sessions still resume.
            let replacement = root + "/ca.pem.new"
            try FileManager.default.copyItem(atPath: certificates.caFile, toPath: replacement)
            #expect(rename(replacement, trusted) == 0)
            guard case .reloaded = store.reloadIfChanged() else {
                Issue.record("the rewritten CA file was not loaded")
                return
            }
            let same = try await opensslWithRequest(connect + ["-sess_in", session])
            #expect(same.output.contains("Reused,") && same.output.contains("HTTP/1.1 200"), "\(same.output)")
            // The operator stops trusting the CA that signed node2's certificate.
            try FileManager.default.copyItem(atPath: certificates.fixture.otherCA.certificate, toPath: replacement)
            #expect(rename(replacement, trusted) == 0)
            guard case .reloaded = store.reloadIfChanged() else {
                Issue.record("the new CA file was not loaded")
                return
            }
            // A session from the old trust must not let the client in without a certificate the new CA signed.
            let resumed = try await opensslWithRequest(connect + ["-sess_in", session])
            #expect(!resumed.output.contains("Reused,"), "\(resumed.output)")
            #expect(!resumed.output.contains("HTTP/1.1 200"), "\(resumed.output)")
        }
    }
}

// MARK: - Helpers

extension TLSContextStore.ReloadOutcome {
    var isUnchanged: Bool {
        if case .unchanged = self { return true }
        return false
    }
}

/// A certificate and key copied to their own directory, replaced the way tools do it: new
/// files written beside the old and renamed over them (key first, then certificate).
struct LiveCredentials {
    let certificate: String
    let key: String

    init(_ credential: CertificateFixture.Credential, in directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        certificate = directory + "/tls.crt"
        key = directory + "/tls.key"
        try FileManager.default.copyItem(atPath: credential.certificate, toPath: certificate)
        try FileManager.default.copyItem(atPath: credential.key, toPath: key)
    }

    func replace(with credential: CertificateFixture.Credential) throws {
        for (source, target) in [(credential.key, key), (credential.certificate, certificate)] {
            let temporary = target + ".new"
            try? FileManager.default.removeItem(atPath: temporary)
            try FileManager.default.copyItem(atPath: source, toPath: temporary)
            guard rename(temporary, target) == 0 else { throw POSIXError(.EIO) }
        }
    }
}
