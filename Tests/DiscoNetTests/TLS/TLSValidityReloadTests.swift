import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// Certificates outside their validity period, by this machine's clock: served with a warning
/// at a start, refused by a reload while the one serving is valid.
@Suite("TLS credentials: certificates outside their validity")
struct TLSValidityReloadTests {
    // MARK: Starting

    @Test func startingWithAnExpiredCertificateIsLoggedAsAWarning() async throws {
        let certificates = try await TLSTestCertificates.get()
        let (logger, lines) = capturingLogger()
        var tls = certificates.serverTLS(certificates.expired)
        tls.logger = logger
        // It still starts (nothing better to serve, and clients told not to verify still connect).
        let store = try TLSContextStore(server: tls)
        #expect(store.current.certificateSubject == "CN=expired-node")
        #expect(logContains(lines, "level=warning", "CN=expired-node", certificates.expired.certificate, "expired on Feb  1 00:00:00 2020 GMT"),
                "\(lines.lines)")
        // Serving an expired certificate, a reload is no worse with another one: the files are taken.
        let live = try LiveCredentials(certificates.expired, in: certificates.fixture.directory + "/expired-start-\(UUID().uuidString.prefix(6))")
        let stale = try TLSContextStore(server: .server(certificateChain: .file(live.certificate), privateKey: .file(live.key)))
        try live.replace(with: certificates.expired)
        guard case .reloaded = stale.reloadIfChanged() else {
            Issue.record("a reload while serving an expired certificate was refused")
            return
        }
        let (quiet, quietLines) = capturingLogger()
        var valid = certificates.serverTLS()
        valid.logger = quiet
        _ = try TLSContextStore(server: valid)
        #expect(!logContains(quietLines, "expired"), "\(quietLines.lines)")
    }

    /// A certificate whose validity begins later (issued ahead, or this machine's clock behind)
    /// serves, with a warning saying until when peers refuse it; it was served silently.
    @Test func startingWithACertificateNotYetValidIsLoggedAsAWarning() async throws {
        let certificates = try await TLSTestCertificates.get()
        let (logger, lines) = capturingLogger()
        var tls = certificates.serverTLS(certificates.notYetValid)
        tls.logger = logger
        let store = try TLSContextStore(server: tls)
        #expect(store.current.certificateSubject == "CN=future-node")
        let notBefore = try #require(store.current.certificateNotBefore)
        #expect(logContains(lines, "level=warning", "CN=future-node", certificates.notYetValid.certificate, "is not valid until \(notBefore)",
                            "peers that verify it refuse it until then", "check this machine's clock"), "\(lines.lines)")
        #expect(store.certificateWarning?.contains("is not valid until \(notBefore)") == true, "\(String(describing: store.certificateWarning))")
        let valid = try TLSContextStore(server: certificates.serverTLS())
        #expect(valid.certificateWarning == nil)
        #expect(try TLSContextStore(server: certificates.serverTLS(certificates.expired)).certificateWarning?.contains("expired on") == true)
    }

    // MARK: Reloading

    @Test func anExpiredNewCertificateKeepsTheValidOneServing() async throws {
        let certificates = try await TLSTestCertificates.get()
        let live = try LiveCredentials(certificates.server, in: certificates.fixture.directory + "/expired-\(UUID().uuidString.prefix(6))")
        let tls = TLSConfiguration.server(certificateChain: .file(live.certificate), privateKey: .file(live.key))
        try await withTLSServer(tls) { server, store in
            // An old certificate copied over the current one (key and certificate match).
            try live.replace(with: certificates.expired)
            let outcome = store.reloadIfChanged()
            guard case .failed(let error) = outcome else {
                Issue.record("an expired certificate replaced a valid one: \(outcome)")
                return
            }
            #expect(error.description.contains("give a renewed certificate"), "\(error)")
            #expect(error.role == .certificateChain)
            #expect(outcome.description.contains("CN=expired-node"), "\(outcome)")
            #expect(outcome.description.contains("expired on Feb  1 00:00:00 2020 GMT"), "\(outcome)")
            #expect(outcome.description.contains("still serving the previous certificate"), "\(outcome)")
            #expect(store.current.certificateSubject == "CN=node1")
            // What a real client is shown: still the valid certificate.
            let seen = try await openssl(["s_client", "-connect", "127.0.0.1:\(server.localAddress.port)", "-CAfile", certificates.caFile])
            #expect(seen.output.contains("subject=CN = node1") && seen.output.contains("Verify return code: 0 (ok)"), "\(seen.output)")
            // A renewed certificate is taken.
            let renewed = try await certificates.fixture.issue("renewed-node")
            try live.replace(with: renewed)
            guard case .reloaded(let context) = store.reloadIfChanged() else {
                Issue.record("the renewed certificate was not loaded")
                return
            }
            #expect(context.certificateSubject == "CN=renewed-node")
        }
    }

    /// A certificate whose validity begins later (issued ahead, or this machine's clock behind)
    /// copied over a valid one: every peer that verifies it would refuse it, so the valid one
    /// keeps serving, as for an expired one. It replaced the valid one.
    @Test func aNewCertificateNotYetValidKeepsTheValidOneServing() async throws {
        let certificates = try await TLSTestCertificates.get()
        let notBefore = try #require(try TLSContextStore(server: certificates.serverTLS(certificates.notYetValid)).current.certificateNotBefore)
        let live = try LiveCredentials(certificates.server, in: certificates.fixture.directory + "/future-\(UUID().uuidString.prefix(6))")
        let tls = TLSConfiguration.server(certificateChain: .file(live.certificate), privateKey: .file(live.key))
        try await withTLSServer(tls) { server, store in
            try live.replace(with: certificates.notYetValid)
            let outcome = store.reloadIfChanged()
            guard case .failed(let error) = outcome else {
                Issue.record("a certificate not valid yet replaced a valid one: \(outcome)")
                return
            }
            #expect(error.code == .notYetValidCertificate, "\(error)")
            #expect(error.role == .certificateChain)
            #expect(error.description.contains(live.certificate), "\(error)")
            #expect(outcome.description.contains("CN=future-node is not valid until \(notBefore)"), "\(outcome)")
            #expect(outcome.description.contains("give a certificate valid now, or check this machine's clock"), "\(outcome)")
            #expect(outcome.description.contains("still serving the previous certificate"), "\(outcome)")
            #expect(store.current.certificateSubject == "CN=node1")
            #expect(store.reloads.failed == 1 && store.reloads.succeeded == 0, "\(store.reloads)")
            // What a real client is shown: still the valid certificate.
            let seen = try await openssl(["s_client", "-connect", "127.0.0.1:\(server.localAddress.port)", "-CAfile", certificates.caFile])
            #expect(seen.output.contains("subject=CN = node1") && seen.output.contains("Verify return code: 0 (ok)"), "\(seen.output)")
            // A certificate valid now is taken.
            let renewed = try await certificates.fixture.issue("renewed-after-future")
            try live.replace(with: renewed)
            guard case .reloaded(let context) = store.reloadIfChanged() else {
                Issue.record("the valid certificate was not loaded")
                return
            }
            #expect(context.certificateSubject == "CN=renewed-after-future")
        }
    }

    /// Serving a certificate not valid yet, another one is no worse and is taken; an expired one
    /// (never valid again) is refused. Serving an expired one, one not valid yet is taken.
    @Test func aReloadIsRefusedOnlyForACertificateWorseThanTheOneServing() async throws {
        let certificates = try await TLSTestCertificates.get()
        let live = try LiveCredentials(certificates.notYetValid, in: certificates.fixture.directory + "/future-start-\(UUID().uuidString.prefix(6))")
        let store = try TLSContextStore(server: .server(certificateChain: .file(live.certificate), privateKey: .file(live.key)))
        let later = try await certificates.fixture.issue("future-node-2", validity: .notYetValid)
        try live.replace(with: later)
        let taken = store.reloadIfChanged()
        guard case .reloaded(let context) = taken else {
            Issue.record("a reload while serving a certificate not valid yet was refused: \(taken)")
            return
        }
        #expect(context.certificateSubject == "CN=future-node-2")
        try live.replace(with: certificates.expired)
        let refused = store.reloadIfChanged()
        guard case .failed(let error) = refused else {
            Issue.record("an expired certificate replaced one not valid yet: \(refused)")
            return
        }
        #expect(error.code == .expiredCertificate, "\(error)")
        #expect(store.current.certificateSubject == "CN=future-node-2")

        let expiredLive = try LiveCredentials(certificates.expired, in: certificates.fixture.directory + "/expired-then-future-\(UUID().uuidString.prefix(6))")
        let expiredStore = try TLSContextStore(server: .server(certificateChain: .file(expiredLive.certificate), privateKey: .file(expiredLive.key)))
        try expiredLive.replace(with: certificates.notYetValid)
        let better = expiredStore.reloadIfChanged()
        guard case .reloaded(let future) = better else {
            Issue.record("a certificate not valid yet did not replace an expired one: \(better)")
            return
        }
        #expect(future.certificateSubject == "CN=future-node")
    }
}
