import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Synchronization
import Testing

// MARK: - TLS between real discod processes

extension NodeProcessTests {
    @Suite struct TLS {
        /// Three nodes with an HTTPS API (client certificates required) and mutual TLS on the
        /// internode port, formed with the seed's command shape over https:// join URLs.
        @Test func threeNodesFormWithMutualTLSAndAnHTTPSAPI() async throws {
            let certificates = try await CertificateFixture.make(name: "discod-mtls")
            let credentials = try await certificates.nodes(3)
            try await DiscodCluster.with("mtls3") { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                let nodes = try (0..<3).map { index in
                    try cluster.start(id: "\(index + 1)", ports: ports[index],
                                      flags: TLSNodes.flags(credentials[index], ca: certificates.ca.certificate)
                                          + ["-bootstrap-expect", "3", "-join", DiscodCluster.joinList(ports, scheme: "https")],
                                      access: try TLSNodes.access(certificates, as: credentials[index]))
                }
                let leader = try await DiscodCluster.waitForLeader(nodes)
                let (leaderNode, followers) = try NodeTests.split(nodes, leader: leader)

                // A write through a follower is forwarded to the leader over HTTPS and reaches every node.
                let event = #"{"tls":"mutual"}"#
                try await NodeTests.append(event, via: followers[0])
                try await NodeTests.waitForEvents([event], on: nodes)

                // Every API address the cluster publishes says https.
                let leaderJSON = try #require(try await firstAnswer("GET /leader on a follower") { try await followers[1].request("GET", "/leader") }.json)
                #expect(leaderJSON["api_addr"]?.stringValue == "https://127.0.0.1:\(leaderNode.httpPort)")
                let status = try await firstAnswer("GET /status on the leader") { try await leaderNode.status() }
                #expect(status["node"]?["api_addr"]?.stringValue == leaderNode.apiURL)
                #expect(status["tls"]?["api"]?["verify_client"]?.boolValue == true)
                #expect(status["tls"]?["internode"]?["certificate"]?.stringValue?.hasPrefix("CN=node") == true)
                #expect((status["tls"]?["internode"]?["handshakes"]?.numberValue?.int64Value ?? 0) > 0,
                        "Raft and push-pull connections must have shaken hands: \(status["tls"] ?? .null)")
                for row in try #require(status["members"]?.arrayValue) {
                    #expect(row["api_addr"]?.stringValue?.hasPrefix("https://") == true, "\(row)")
                }

                // SWIM: gossip (UDP) plus push-pull exchanges over the TLS internode port.
                try await NodeTests.eventually("every node to see all three members alive in SWIM", nodes) {
                    for node in nodes {
                        guard let members = try? await node.status()["members"]?.arrayValue else { return false }
                        let alive = members.filter { $0["swim"]?.stringValue == "alive" }.compactMap { $0["id"]?.stringValue }
                        guard alive.sorted() == ["1", "2", "3"] else { return false }
                    }
                    return true
                }

                // The internode port speaks TLS and asks for a client certificate.
                let raft = try await ChildProcess.run(CertificateFixture.openssl, [
                    "s_client", "-connect", leaderNode.raftAddress, "-CAfile", certificates.ca.certificate,
                    "-cert", credentials[0].certificate, "-key", credentials[0].key,
                ])
                #expect(raft.output.contains("Verify return code: 0 (ok)"), "\(raft.output)")
                #expect(raft.output.contains("Acceptable client certificate CA names"), "\(raft.output)")

                // Without a client certificate, curl is refused by the API; plain HTTP gets a 400.
                let url = "https://127.0.0.1:\(leaderNode.httpPort)/status"
                let anonymous = try await ChildProcess.run("/usr/bin/curl", ["-sS", "--max-time", "10", "--cacert", certificates.ca.certificate, url])
                #expect(anonymous.status != 0, "\(anonymous.output)")
                let withCertificate = try await ChildProcess.run("/usr/bin/curl", [
                    "-sS", "--max-time", "10", "--cacert", certificates.ca.certificate,
                    "--cert", credentials[1].certificate, "--key", credentials[1].key, url,
                ])
                #expect(withCertificate.status == 0 && withCertificate.output.contains("\"leader\""), "\(withCertificate.output)")
                let plain = try await ChildProcess.run("/usr/bin/curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(leaderNode.httpPort)/status"])
                #expect(plain.output.contains("plain HTTP request was sent to an HTTPS port"), "\(plain.output)")
            }
        }

        /// A fourth node whose internode certificate comes from another CA: its API certificate
        /// is fine, so it may ask to join, but no voter accepts its Raft connections (and it
        /// refuses theirs); the refusals are logged naming its subject and both CAs.
        @Test func aNodeWithACertificateFromAnotherCAIsRefused() async throws {
            let certificates = try await CertificateFixture.make(name: "discod-stranger")
            let credentials = try await certificates.nodes(3)
            let stranger = try await certificates.issue("stranger", by: .other)
            try await DiscodCluster.with("mtls-stranger") { cluster in
                let ports = try DiscodCluster.ports(count: 4)
                let seeds = Array(ports.prefix(3))
                let nodes = try (0..<3).map { index in
                    try cluster.start(id: "\(index + 1)", ports: ports[index],
                                      flags: TLSNodes.flags(credentials[index], ca: certificates.ca.certificate)
                                          + ["-bootstrap-expect", "3", "-join", DiscodCluster.joinList(seeds, scheme: "https")],
                                      access: try TLSNodes.access(certificates, as: credentials[index]))
                }
                try await DiscodCluster.waitForLeader(nodes)
                let fourth = try cluster.start(
                    id: "4", ports: ports[3],
                    flags: TLSNodes.flags(credentials[0], ca: certificates.ca.certificate, internode: stranger)
                        + ["-join", DiscodCluster.joinList(seeds, scheme: "https"), "-raft-non-voter"],
                    access: try TLSNodes.access(certificates, as: credentials[0]))
                try await NodeTests.eventually("a voter to log the stranger's refused certificate with its subject and both CAs", nodes + [fourth]) {
                    nodes.contains { node in
                        node.process.output.split(separator: "\n").contains { line in
                            line.contains("CN=stranger") && line.contains("CN=Other Test CA") && line.contains("CN=Disco Test CA")
                        }
                    }
                }
                // It never receives the cluster's events.
                let event = #"{"after":"stranger"}"#
                try await NodeTests.append(event, via: nodes[0])
                try await NodeTests.waitForEvents([event], on: nodes)
                let seen = try? await fourth.eventData()
                #expect(seen?.contains(event) != true, "the stranger must not replicate the log")
            }
        }

        /// Certificates replaced while clients keep requesting: one rotation announced with
        /// SIGHUP, one noticed from the files alone. No request fails; new connections see the
        /// new certificate.
        @Test func certificateRotationUnderLoadDropsNoRequest() async throws {
            let certificates = try await CertificateFixture.make(name: "discod-rotation")
            let first = try await certificates.issue("api-v1")
            let live = certificates.directory + "/live"
            try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
            try TLSNodes.install(first, in: live)
            try await DiscodCluster.with("tls-rotation") { cluster in
                let ports = try DiscodCluster.ports()
                let access = try DiscodAPIAccess.https(caFile: certificates.ca.certificate)
                let node = try cluster.start(id: "1", ports: ports, flags: [
                    "-http-cert", live + "/tls.crt", "-http-key", live + "/tls.key",
                ], access: access)
                try await DiscodCluster.waitForLeader([node])
                let fresh = try DiscodAPIAccess.https(caFile: certificates.ca.certificate)
                let failures = Mutex<[String]>([])
                let completed = Mutex(0)
                let stop = Mutex(false)
                let load = Task {
                    while !stop.withLock({ $0 }) {
                        for (client, close) in [(access.client, false), (fresh.client, true)] {
                            var request = HTTPClientRequest(url: node.apiURL + "/status")
                            if close { request.headers.add(name: "Connection", value: "close") }
                            do {
                                let answer = try await client.send(request)
                                if answer.status != 200 { failures.withLock { $0.append("status \(answer.status)") } }
                                completed.withLock { $0 += 1 }
                            } catch {
                                failures.withLock { $0.append("\(error)") }
                            }
                        }
                    }
                }
                for (round, signal) in [(2, true), (3, false)] {
                    let before = completed.withLock { $0 }
                    try await NodeTests.eventually("requests before rotation \(round)", [node]) { completed.withLock { $0 } >= before + 20 }
                    try TLSNodes.install(try await certificates.issue("api-v\(round)"), in: live)
                    if signal { node.process.send(SIGHUP) }
                    try await NodeTests.eventually("/status to show certificate api-v\(round)", [node]) {
                        let status = try? await node.status()
                        return status?["tls"]?["api"]?["certificate"]?.stringValue == "CN=api-v\(round)"
                    }
                    let after = completed.withLock { $0 }
                    try await NodeTests.eventually("requests after rotation \(round)", [node]) { completed.withLock { $0 } >= after + 20 }
                    let seen = try await ChildProcess.run(CertificateFixture.openssl, [
                        "s_client", "-connect", "127.0.0.1:\(ports.http)", "-CAfile", certificates.ca.certificate,
                    ])
                    #expect(seen.output.contains("subject=CN = api-v\(round)"), "\(seen.output)")
                }
                stop.withLock { $0 = true }
                _ = await load.value
                #expect(failures.withLock { $0 }.isEmpty, "failed requests: \(failures.withLock { $0 }.prefix(5))")
                #expect(node.process.output.contains("TLS for the HTTPS API reloaded"), "\(node.process.output.suffix(3000))")

                // A broken certificate keeps the current one serving, and says why.
                try "not a certificate\n".write(toFile: live + "/tls.crt", atomically: true, encoding: .utf8)
                node.process.send(SIGHUP)
                try await NodeTests.eventually("the failed reload to be logged", [node]) {
                    node.process.output.split(separator: "\n").contains { line in
                        line.contains("TLS reload for the HTTPS API failed; still using the previous certificate") && line.contains("no PEM certificate found")
                    }
                }
                let status = try await node.status()
                #expect(status["tls"]?["api"]?["certificate"]?.stringValue == "CN=api-v3")
                let metrics = try await firstAnswer("GET /metrics on node \(node.nodeID)") { try await node.request("GET", "/metrics") }.text
                func sample(_ series: String) -> Int? {
                    metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }?.split(separator: " ").last.flatMap { Int($0) }
                }
                #expect((sample(#"disco_tls_reloads_total{tls="api",result="failed"}"#) ?? 0) >= 1, "\(metrics)")
                #expect((sample(#"disco_tls_reloads_total{tls="api",result="ok"}"#) ?? 0) >= 2, "\(metrics)")
                #expect((sample(#"disco_tls_handshakes_total{tls="api",result="full"}"#) ?? 0) >= 1, "\(metrics)")
                let expiry = sample(#"disco_tls_certificate_expiry_timestamp_seconds{tls="api"}"#) ?? 0
                #expect(expiry > Int(Date().timeIntervalSince1970), "the certificate expires in the future: \(metrics)")
            }
        }

        /// Files that cannot be used stop discod with exit status 2, naming the flag and the file,
        /// before the data directory is created.
        @Test func unusableTLSFilesExitWithStatus2NamingTheFile() async throws {
            let certificates = try await CertificateFixture.make(name: "discod-badfiles")
            let one = try await certificates.issue("one")
            let two = try await certificates.issue("two")
            let garbage = certificates.directory + "/garbage.pem"
            try "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n".write(toFile: garbage, atomically: true, encoding: .utf8)
            let missing = certificates.directory + "/missing.pem"
            let cases: [([String], String)] = [
                (["-http-cert", missing, "-http-key", one.key], "-http-cert \(missing): cannot open: No such file or directory"),
                (["-http-cert", one.certificate, "-http-key", two.key], "-http-key \(two.key): this private key does not match the certificate CN=one"),
                (["-http-cert", garbage, "-http-key", one.key], "-http-cert \(garbage): a certificate in it cannot be read"),
                (["-node-cert", one.certificate, "-node-key", one.key, "-node-ca-cert", one.key], "-node-ca-cert \(one.key): no PEM certificate found"),
                (["-http-cert", one.certificate], "-http-cert needs -http-key"),
                (["-http-cert", one.certificate, "-http-key", one.key, "-http-verify-client"], "-http-verify-client needs -http-ca-cert"),
            ]
            for (flags, message) in cases {
                let data = certificates.directory + "/data-\(UUID().uuidString.prefix(6))"
                let ports = try DiscodCluster.ports()
                let run = try await ChildProcess.run(try DiscodProcess.executable("discod"), [
                    "-node-id", "1", "-http-addr=127.0.0.1:\(ports.http)", "-raft-addr=127.0.0.1:\(ports.raft)",
                ] + flags + [data])
                #expect(run.status == 2, "\(flags): \(run.output)")
                #expect(run.output.contains(message), "\(flags) should say \(message): \(run.output)")
                #expect(!FileManager.default.fileExists(atPath: data), "the data directory must not be created")
            }
        }
    }
}

// MARK: - Helpers

enum TLSNodes {
    /// API and internode TLS with client verification on both, all from `credential`
    /// (`internode` replaces the internode certificate).
    static func flags(_ credential: CertificateFixture.Credential, ca: String,
                      internode: CertificateFixture.Credential? = nil) -> [String] {
        let node = internode ?? credential
        return [
            "-http-cert", credential.certificate, "-http-key", credential.key, "-http-ca-cert", ca, "-http-verify-client",
            "-node-cert", node.certificate, "-node-key", node.key, "-node-ca-cert", ca, "-node-verify-client",
        ]
    }

    /// HTTPS to the API with `credential` as the client certificate.
    static func access(_ certificates: CertificateFixture, as credential: CertificateFixture.Credential) throws -> DiscodAPIAccess {
        try DiscodAPIAccess.https(caFile: certificates.ca.certificate, certificate: credential.certificate, key: credential.key)
    }

    /// Copies `credential` to `directory/tls.crt` and `tls.key`, each by a rename over the old
    /// file (key first), as certificate tools do.
    static func install(_ credential: CertificateFixture.Credential, in directory: String) throws {
        for (source, name) in [(credential.key, "tls.key"), (credential.certificate, "tls.crt")] {
            let temporary = directory + "/." + name + ".new"
            try? FileManager.default.removeItem(atPath: temporary)
            try FileManager.default.copyItem(atPath: source, toPath: temporary)
            guard rename(temporary, directory + "/" + name) == 0 else { throw POSIXError(.EIO) }
        }
    }
}
