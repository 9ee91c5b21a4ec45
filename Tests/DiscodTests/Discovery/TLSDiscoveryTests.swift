import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// Discovery over TLS against a real etcd started with `--cert-file --key-file
/// --trusted-ca-file --client-cert-auth` on an https listen URL: discod forms through it,
/// discoctl reads it, and certificates etcd must not accept (or that must not be trusted) fail
/// with the reason.
@Suite(.serialized) struct TLSDiscoveryTests {
    struct Setup {
        let certificates: CertificateFixture
        let etcd: EtcdFixture
        let client: CertificateFixture.Credential
        var endpoint: String { etcd.endpoints[0] }

        /// disco-config with `ca_file`, `cert_file` and `key_file` (each may be replaced).
        func config(ca: String? = nil, certificate: String?? = nil, key: String?? = nil, extra: String = "") -> String {
            var fields = [#""endpoints":["\#(endpoint)"]"#, #""ca_file":"\#(ca ?? certificates.ca.certificate)""#]
            if let cert = certificate ?? client.certificate { fields.append(#""cert_file":"\#(cert)""#) }
            if let keyFile = key ?? client.key { fields.append(#""key_file":"\#(keyFile)""#) }
            if !extra.isEmpty { fields.append(extra) }
            return "{" + fields.joined(separator: ",") + "}"
        }
    }

    static func withTLSEtcd(_ body: (Setup) async throws -> Void) async throws {
        let certificates = try await CertificateFixture.make(name: "etcd-tls")
        let server = try await certificates.issue("etcd")
        let client = try await certificates.issue("etcd-client")
        let etcd = try await EtcdFixture.start(tls: .init(certificate: server.certificate, key: server.key, caFile: certificates.ca.certificate,
                                                          client: (client.certificate, client.key)))
        do {
            try await body(Setup(certificates: certificates, etcd: etcd, client: client))
        } catch {
            await etcd.stop()
            throw error
        }
        await etcd.stop()
    }

    /// `etcdctl` (a client that is not ours) reading a key over TLS with the client certificate.
    static func etcdctlGet(_ setup: Setup, key: String) async throws -> String {
        let result = try await ChildProcess.run("/usr/bin/etcdctl", [
            "--endpoints", setup.endpoint, "--cacert", setup.certificates.ca.certificate,
            "--cert", setup.client.certificate, "--key", setup.client.key, "get", key, "--print-value-only",
        ], environment: ["ETCDCTL_API": "3"])
        guard result.status == 0 else { throw FormationFailure(description: "etcdctl get \(key) failed: \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func discodFormsThroughEtcdOverMutualTLS() async throws {
        try await Self.withTLSEtcd { setup in
            let key = KVFormationTests.freshKey()
            try await DiscodCluster.with("etcd-tls") { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                let flags = ["-disco-mode", "etcd-kv", "-disco-key", key, "-disco-config", setup.config()]
                let nodes = try (1...3).map { try cluster.start(id: "\($0)", ports: ports[$0 - 1], flags: flags) }
                let leader = try await FormationChecks.waitForOneCluster(nodes)
                #expect(FormationChecks.count(nodes, logging: KVFormationTests.createdRecord) == 1)
                var record = ""
                try await NodeTests.eventually("etcdctl to read the leader record naming node \(leader.nodeID)", nodes) {
                    record = (try? await Self.etcdctlGet(setup, key: "/\(key)/leader")) ?? ""
                    return (try? JSONValue.parse(Array(record.utf8)))?.textMembers == leader.expectedLeaderRecord
                }
            }
        }
    }

    @Test func discoctlReadsEtcdOverTLSAndRefusedCertificatesSayWhy() async throws {
        try await Self.withTLSEtcd { setup in
            let directory = try ExecutableRunner.productsDirectory()
            func lookup(_ config: String) async throws -> ExecutableRunner.Outcome {
                try await ExecutableRunner.run("discoctl", ["lookup", "-disco-mode", "etcd-kv", "-disco-config", config], in: directory)
            }
            let empty = try await lookup(setup.config())
            #expect(empty.status == 1 && empty.standardOutput == "leader: none\n", "\(empty)")

            // No client certificate: etcd (--client-cert-auth) refuses the handshake.
            let anonymous = try await lookup(setup.config(certificate: .some(nil), key: .some(nil)))
            #expect(anonymous.status == 1, "\(anonymous)")
            #expect(anonymous.standardError.contains("certificate"), "\(anonymous.standardError)")

            // A CA that did not sign etcd's certificate: we refuse etcd, naming why and whom.
            let wrongCA = try await lookup(setup.config(ca: setup.certificates.otherCA.certificate))
            #expect(wrongCA.status == 1, "\(wrongCA)")
            #expect(wrongCA.standardError.contains("unable to get local issuer certificate"), "\(wrongCA.standardError)")
            #expect(wrongCA.standardError.contains("CN=etcd"), "\(wrongCA.standardError)")
            // ... unless told not to verify (testing only).
            let insecure = try await lookup(setup.config(ca: setup.certificates.otherCA.certificate, extra: #""insecure_skip_verify":true"#))
            #expect(insecure.status == 1 && insecure.standardOutput == "leader: none\n", "\(insecure)")

            // A file that cannot be used is a configuration error naming it (exit 2).
            let missing = setup.certificates.directory + "/missing-ca.pem"
            let unreadable = try await lookup(setup.config(ca: missing))
            #expect(unreadable.status == 2, "\(unreadable)")
            #expect(unreadable.standardError.contains("\(missing): cannot open"), "\(unreadable.standardError)")
            // Plain http:// with TLS settings is refused before any connection.
            let plain = try await lookup(#"{"endpoints":["http://127.0.0.1:1"],"ca_file":"\#(setup.certificates.ca.certificate)"}"#)
            #expect(plain.status == 2 && plain.standardError.contains("is plain HTTP but TLS settings are given"), "\(plain)")
        }
    }

    @Test func discodRefusesUnusableDiscoveryTLSFilesWithStatus2() async throws {
        let certificates = try await CertificateFixture.make(name: "etcd-tls-bad")
        let missing = certificates.directory + "/nope.pem"
        let ports = try DiscodCluster.ports()
        let data = certificates.directory + "/data"
        let run = try await ChildProcess.run(try DiscodProcess.executable("discod"), [
            "-node-id", "1", "-http-addr=127.0.0.1:\(ports.http)", "-raft-addr=127.0.0.1:\(ports.raft)",
            "-disco-mode", "etcd-kv", "-disco-config", #"{"endpoints":["https://127.0.0.1:2379"],"ca_file":"\#(missing)"}"#, data,
        ])
        #expect(run.status == 2, "\(run.output)")
        #expect(run.output.contains("-disco-config") && run.output.contains("\(missing): cannot open"), "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: data))
    }
}

/// `-disco-mode consul-kv` with `"scheme": "https"` and `tls_config`, against the Consul double
/// served over TLS with client certificates required.
@Suite(.serialized) struct ConsulTLSDiscoveryTests {
    @Test func discodFormsThroughConsulOverTLSWithTLSConfig() async throws {
        let certificates = try await CertificateFixture.make(name: "consul-tls")
        let agent = try await certificates.issue("consul-agent")
        let client = try await certificates.issue("consul-client")
        var tls = TLSConfiguration.server(certificateChain: .file(agent.certificate), privateKey: .file(agent.key))
        tls.trustRoots = .pem(.file(certificates.ca.certificate))
        tls.verifyPeer = true
        let server = try await ConsulKVServer.start(tls: tls)
        defer { Task { await server.stop() } }
        // ca_pem as base64 (rqlite-disco-clients' encoding of []byte); the client certificate as files.
        let caPEM = try Data(contentsOf: URL(fileURLWithPath: certificates.ca.certificate)).base64EncodedString()
        let config = #"{"address":"\#(server.address)","scheme":"https","tls_config":{"ca_pem":"\#(caPEM)","cert_file":"\#(client.certificate)","key_file":"\#(client.key)","address":"localhost:8501"}}"#
        let key = KVFormationTests.freshKey()
        try await DiscodCluster.with("consul-tls") { cluster in
            let ports = try DiscodCluster.ports(count: 3)
            let flags = ["-disco-mode", "consul-kv", "-disco-key", key, "-disco-config", config]
            let nodes = try (1...3).map { try cluster.start(id: "\($0)", ports: ports[$0 - 1], flags: flags) }
            let leader = try await FormationChecks.waitForOneCluster(nodes)
            #expect(FormationChecks.count(nodes, logging: KVFormationTests.createdRecord) == 1)
            var reader = TLSConfiguration.client(trustRoots: .pem(.file(certificates.ca.certificate)))
            reader.certificateChain = .file(client.certificate)
            reader.privateKey = .file(client.key)
            let https = HTTPClient(configuration: HTTPClientConfiguration(httpsTransport: try TLSTransportFactory.client(reader)))
            try await NodeTests.eventually("the agent to hold the record naming node \(leader.nodeID)", nodes) {
                guard let answer = try? await https.send(HTTPClientRequest(url: "https://\(server.address)/v1/kv/\(key)/leader")),
                      answer.status == 200, let value = try? JSONValue.parse(answer.body).arrayValue?.first?["Value"]?.stringValue,
                      let bytes = Data(base64Encoded: value), let record = try? JSONValue.parse(Array(bytes))
                else { return false }
                return record.textMembers == leader.expectedLeaderRecord
            }
            await https.shutdown()
        }
        // Without the client certificate the agent refuses the handshake; the lookup says so.
        let anonymous = #"{"address":"\#(server.address)","scheme":"https","tls_config":{"ca_file":"\#(certificates.ca.certificate)"}}"#
        let outcome = try await ExecutableRunner.run("discoctl", ["leader", "-disco-mode", "consul-kv", "-disco-config", anonymous],
                                                     in: try ExecutableRunner.productsDirectory())
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.standardError.contains("certificate"), "\(outcome.standardError)")
    }
}
