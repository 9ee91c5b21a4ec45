import DiscoNet
import DiscoSystem
import DiscoTestKit
import Foundation
import Sidecar
import SidecarProxy
import Testing

@Suite("Sidecar proxy: certificate rotation")
struct ProxyTLSReloadTests {
    /// The subject line `openssl s_client` prints for what the proxy presents now.
    private func presentedSubject(port: UInt16, ca: String) async throws -> String {
        let result = try await ChildProcess.run(CertificateFixture.openssl,
                                                ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", ca],
                                                timeout: .seconds(30))
        return result.output.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? result.output
    }

    @Test func aRotatedProxyCertificateIsServedToNewConnections() async throws {
        let certificates = try await CertificateFixture.make(name: "proxy-rotation")
        defer { certificates.remove() }
        let first = try await certificates.issue("proxy-v1")
        let second = try await certificates.issue("proxy-v2")
        let live = certificates.directory + "/live"
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: first.certificate, toPath: live + "/tls.crt")
        try FileManager.default.copyItem(atPath: first.key, toPath: live + "/tls.key")
        let upstream = try await RecordingUpstream.start(name: "u")
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.tls = ProxyTLSFiles(certificate: live + "/tls.crt", key: live + "/tls.key")
        configuration.tlsReloadInterval = .milliseconds(100)
        try await withProxy(configuration) { proxy in
            let port = try #require(proxy.localAddress?.port)
            let before = try await presentedSubject(port: port, ca: certificates.ca.certificate)
            #expect(before.contains("CN = proxy-v1"), "\(before)")
            // The Secret is updated: new files renamed over the old, key first.
            for (source, target) in [(second.key, live + "/tls.key"), (second.certificate, live + "/tls.crt")] {
                try FileManager.default.copyItem(atPath: source, toPath: target + ".new")
                #expect(rename(target + ".new", target) == 0)
            }
            var seen = before
            try await waitUntil("the proxy to present the rotated certificate", timeout: .seconds(30), pollEvery: .milliseconds(200)) {
                seen = try await presentedSubject(port: port, ca: certificates.ca.certificate)
                return seen.contains("CN = proxy-v2")
            }
            #expect(seen.contains("CN = proxy-v2"), "\(seen)")
        }
        await upstream.stop()
    }
}
