import DiscoCore
import DiscoTestKit
import Foundation
import Testing

/// `discoctl -ca-cert/-cert/-key/-insecure` against a real discod serving its API over HTTPS with
/// client certificates required (`-http-verify-client`).
@Suite struct DiscoctlTLSTests {
    static func discoctl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run(try DiscodProcess.executable("discoctl"), arguments, timeout: .seconds(60))
    }

    @Test func discoctlSpeaksHTTPSWithClientCertificatesAndSaysWhyWhenItCannot() async throws {
        let certificates = try await CertificateFixture.make(name: "discoctl-tls")
        let credential = try await certificates.nodes(1)[0]
        let client = try await certificates.issue("operator")
        try await DiscodCluster.with("discoctl-tls") { cluster in
            let ports = try DiscodCluster.ports()
            let node = try cluster.start(id: "1", ports: ports, flags: TLSNodes.flags(credential, ca: certificates.ca.certificate),
                                         access: try TLSNodes.access(certificates, as: credential))
            _ = try await DiscodCluster.waitForLeader([node])
            let addr = "127.0.0.1:\(ports.http)"
            let ca = certificates.ca.certificate

            // Global flags after the command, the address without a scheme: HTTPS is implied.
            let status = try await Self.discoctl(["status", "-addr", addr, "-ca-cert", ca, "-cert", client.certificate,
                                                  "-key", client.key, "-json"])
            #expect(status.status == 0, "\(status.output)")
            let json = try JSONValue.parse(Array(status.output.utf8))
            #expect(json["node"]?["api_addr"]?.stringValue == "https://\(addr)", "\(status.output)")

            // Before the command, with https:// spelled out; an append goes through as well.
            let append = try await Self.discoctl(["-addr", "https://\(addr)", "-ca-cert", ca, "-cert", client.certificate,
                                                  "-key", client.key, "append", #"{"over":"tls"}"#])
            #expect(append.status == 0, "\(append.output)")

            // -insecure skips verifying the node, but the node still wants a client certificate.
            let insecure = try await Self.discoctl(["leader", "-addr", addr, "-insecure", "-cert", client.certificate, "-key", client.key])
            #expect(insecure.status == 0 && insecure.output.contains("1"), "\(insecure.output)")

            // No client certificate: the node refuses the handshake, and discoctl says that the node wants
            // one and which flags give it, not that the node may not be running.
            let noCertificate = try await Self.discoctl(["status", "-addr", addr, "-ca-cert", ca])
            #expect(noCertificate.status == 1 && noCertificate.output.contains("cannot reach the node at https://"),
                    "\(noCertificate.output)")
            #expect(noCertificate.output.contains("requires a client certificate")
                        && noCertificate.output.contains("give -cert and -key")
                        && !noCertificate.output.contains("check that discod is running"), "\(noCertificate.output)")

            // A CA that did not sign the node's certificate: verification fails and says so.
            let wrongCA = try await Self.discoctl(["status", "-addr", addr, "-ca-cert", certificates.otherCA.certificate,
                                                   "-cert", client.certificate, "-key", client.key])
            #expect(wrongCA.status == 1 && wrongCA.output.contains("certificate was refused")
                        && wrongCA.output.contains("Other Test CA") && wrongCA.output.contains("check -ca-cert"), "\(wrongCA.output)")
        }
    }

    @Test(arguments: [
        (["-cert", "/tmp/c.pem"], "-cert needs its private key"),
        (["-key", "/tmp/k.pem"], "-key needs its certificate"),
        (["-addr", "http://127.0.0.1:1", "-insecure"], "-addr names http:// but HTTPS flags are given"),
        (["-ca-cert", "/nonexistent/disco-ca.pem"], "/nonexistent/disco-ca.pem"),
    ])
    func unusableHTTPSFlagsAreUsageErrors(flags: [String], message: String) async throws {
        let run = try await Self.discoctl(["status"] + flags)
        #expect(run.status == 2, "\(run.output)")
        #expect(run.output.contains(message), "\(run.output)")
    }
}
