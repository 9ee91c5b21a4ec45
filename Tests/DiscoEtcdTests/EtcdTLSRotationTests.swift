import DiscoCore
import DiscoNet
import Foundation
import Testing
@testable import DiscoEtcd
import DiscoTestKit

/// A client certificate for etcd renewed on disk (cert-manager, a Kubernetes Secret) is what new
/// connections present: the process need not restart when the old one expires.
@Suite(.serialized) struct EtcdTLSRotationTests {
    @Test func aRenewedClientCertificateIsPresentedOnNewConnections() async throws {
        let certificates = try await CertificateFixture.make(name: "etcd-client-rotation")
        defer { certificates.remove() }
        let server = try await certificates.issue("etcd")
        let renewed = try await certificates.issue("etcd-client-renewed")
        let expired = try await certificates.issue("etcd-client-expired", validity: .expired)
        let live = certificates.directory + "/live"
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: expired.certificate, toPath: live + "/tls.crt")
        try FileManager.default.copyItem(atPath: expired.key, toPath: live + "/tls.key")
        let etcd = try await EtcdFixture.start(tls: .init(certificate: server.certificate, key: server.key, caFile: certificates.ca.certificate,
                                                          client: (renewed.certificate, renewed.key)))
        do {
            var settings = ClientTLSSettings(origin: "consensus-config")
            settings.caFile = certificates.ca.certificate
            settings.certFile = live + "/tls.crt"
            settings.keyFile = live + "/tls.key"
            let client = EtcdClient(gateway: EtcdGateway(endpoints: etcd.endpoints, timeout: .seconds(5), transport: try HTTPClient().withTLS(settings)))
            do throws(EtcdError) {
                _ = try await client.get("/rotation/a")
                Issue.record("etcd accepted an expired client certificate")
            } catch {}
            // The renewed certificate arrives: files renamed over the old ones, key first.
            for (source, target) in [(renewed.key, live + "/tls.key"), (renewed.certificate, live + "/tls.crt")] {
                try FileManager.default.copyItem(atPath: source, toPath: target + ".new")
                #expect(rename(target + ".new", target) == 0)
            }
            try await waitUntil("etcd to accept the renewed client certificate", timeout: .seconds(30), pollEvery: .milliseconds(200),
                                retryingErrors: true) {
                _ = try await client.get("/rotation/a")
                return true
            }
        } catch {
            await etcd.stop()
            throw error
        }
        await etcd.stop()
    }
}
