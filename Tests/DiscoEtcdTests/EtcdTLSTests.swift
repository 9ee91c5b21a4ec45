import DiscoCore
import DiscoNet
import Testing
@testable import DiscoEtcd
import DiscoTestKit

/// The consensus client's calls (transactions, leases, the streaming watch) against a real etcd
/// that requires TLS with client certificates.
@Suite(.serialized) struct EtcdTLSTests {
    @Test func transactionsLeasesAndWatchesWorkOverMutualTLS() async throws {
        let certificates = try await CertificateFixture.make(name: "etcd-client-tls")
        let server = try await certificates.issue("etcd")
        let credential = try await certificates.issue("etcd-client")
        let etcd = try await EtcdFixture.start(tls: .init(certificate: server.certificate, key: server.key, caFile: certificates.ca.certificate,
                                                          client: (credential.certificate, credential.key)))
        do {
            try await exercise(etcd, certificates: certificates, credential: credential)
        } catch {
            await etcd.stop()
            throw error
        }
        await etcd.stop()
    }

    func exercise(_ etcd: EtcdFixture, certificates: CertificateFixture, credential: CertificateFixture.Credential) async throws {
        var settings = ClientTLSSettings(origin: "consensus-config")
        settings.caFile = certificates.ca.certificate
        settings.certFile = credential.certificate
        settings.keyFile = credential.key
        let transport = try HTTPClient().withTLS(settings)
        let client = EtcdClient(gateway: EtcdGateway(endpoints: etcd.endpoints, timeout: .seconds(30), transport: transport))
        #expect(etcd.endpoints[0].hasPrefix("https://"))

        let start = try await client.put("/tls/a", [UInt8]("1"))
        let watch = EtcdWatch(client: client, prefix: "/tls/", from: start)
        defer { watch.close() }
        let keeper = EtcdLeaseKeeper(client: client, ttl: .seconds(5))
        let lease = try await keeper.grant()
        try await keeper.renew()
        let txn = try await client.txn(EtcdTxn(compare: [EtcdCompare("/tls/a", .modRevision(start))],
                                               success: [.put(key: "/tls/b", value: [UInt8]("2"), lease: lease)]), operation: "tls txn")
        #expect(txn.succeeded)
        var seen: [String] = []
        while seen.count < 2 { seen += try await watch.next().events.map(\.key) }
        #expect(seen == ["/tls/a", "/tls/b"], "the watch streams over TLS")
        await keeper.revoke()
        #expect(try await client.get("/tls/b") == nil)

        let withoutCertificate = EtcdClient(gateway: EtcdGateway(endpoints: etcd.endpoints, timeout: .seconds(3),
                                                                 transport: try HTTPClient().withTLS({
                                                                     var plain = ClientTLSSettings(origin: "consensus-config")
                                                                     plain.caFile = certificates.ca.certificate
                                                                     return plain
                                                                 }())))
        do throws(EtcdError) {
            _ = try await withoutCertificate.get("/tls/a")
            Issue.record("etcd answered a client without a certificate")
        } catch {
            #expect(error.description.hasPrefix("etcd https://127.0.0.1:"), "\(error)")
        }
    }
}
