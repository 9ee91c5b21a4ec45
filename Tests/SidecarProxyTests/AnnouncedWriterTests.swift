import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Sidecar
import Testing

/// Three `disco-sidecar` processes whose proxy ports have nothing to do with their API ports or
/// with each other (all on 127.0.0.1, each its own port): a write reaches the leader's upstream
/// only if the followers use the address the leader's sidecar announced. With `-proxy-cert`
/// the proxies speak only HTTPS, so the followers must forward over HTTPS and verify the
/// leader's certificate against `-proxy-ca-cert`.
@Suite("disco-sidecar: writes reach the writer where it announced its proxy", .serialized)
struct AnnouncedWriterTests {
    @Test(arguments: [false, true])
    func writesReachTheLeaderThroughTheProxyAddressItAnnounced(tls: Bool) async throws {
        try await DiscodCluster.with("sidecar-announced-\(tls ? "https" : "http")") { cluster in
            let certificates = try await CertificateFixture.make(name: "sidecar-announced")
            defer { certificates.remove() }
            let leaf = try await certificates.issue("sidecar", ips: ["127.0.0.1", "127.0.0.5"], dnsNames: ["localhost"])
            let ports = try DiscodCluster.ports(count: 3)
            let proxyPorts = try (0..<3).map { _ in try FreePort.loopback() }
            #expect(Set(proxyPorts).count == 3)
            var upstreams: [RecordingUpstream] = []
            for index in 0..<3 { upstreams.append(try await RecordingUpstream.start(name: "up\(index + 1)")) }
            let join = ports.map { "http://127.0.0.1:\($0.http)" }.joined(separator: ",")
            // n1 listens on its address; n2 on every interface (announced with -http-adv-addr's
            // host); n3 on every interface too, announcing another loopback address of its own.
            let listen = ["127.0.0.1:\(proxyPorts[0])", ":\(proxyPorts[1])", "0.0.0.0:\(proxyPorts[2])"]
            let announced = ["127.0.0.1:\(proxyPorts[0])", "127.0.0.1:\(proxyPorts[1])", "127.0.0.5:\(proxyPorts[2])"]
            let tlsFlags = tls ? ["-proxy-cert", leaf.certificate, "-proxy-key", leaf.key, "-proxy-ca-cert", certificates.ca.certificate] : []
            var nodes: [DiscodProcess] = []
            for index in 0..<3 {
                nodes.append(try startSidecar(cluster, id: "n\(index + 1)", ports: ports[index], flags: [
                    "-bootstrap-expect", "3", "-join", join, "-proxy-addr", listen[index], "-upstream", "http://\(upstreams[index].address)",
                ] + (index == 2 ? ["-proxy-adv-addr", announced[2]] : []) + tlsFlags))
            }
            _ = try await DiscodCluster.waitForLeader(nodes)
            let scheme = tls ? "https" : "http"

            /// The index of the node whose sidecar is the writer, when every sidecar announces its
            /// proxy and agrees on the writer: itself for that one, the address it announced for
            /// the others (asked again each time: under load, leadership may move).
            func agreedWriter() async throws -> Int? {
                var views: [(url: String?, writer: String?)] = []
                for (index, node) in nodes.enumerated() {
                    if let status = node.process.exitStatus { throw SidecarExited(description: "n\(index + 1) exited with \(status):\n\(node.process.output)") }
                    let sidecar = try? await node.status()["roles"]?["sidecar"]
                    views.append((sidecar?["proxy_url"]?.stringValue, sidecar?["writer"]?.stringValue))
                }
                guard views.indices.allSatisfy({ views[$0].url == "\(scheme)://\(announced[$0])" }),
                      let writer = views.firstIndex(where: { $0.writer == "local" }) else { return nil }
                let agreed = views.indices.allSatisfy { $0 == writer || views[$0].writer == "n\(writer + 1) at \(scheme)://\(announced[writer])" }
                return agreed ? writer : nil
            }
            try await waitUntil("every sidecar to announce its proxy and know the writer's", timeout: .seconds(60)) {
                try await agreedWriter() != nil
            }

            let trust = try TLSTransportFactory.client(.client(trustRoots: .pem(.file(certificates.ca.certificate))))
            let client = HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(10), httpsTransport: trust))
            var answered: [String] = []
            try await waitUntil("writes through every sidecar to reach the writer's upstream", timeout: .seconds(30)) {
                guard let writer = try await agreedWriter() else { return false }
                answered = []
                for index in 0..<3 {
                    // No answer (a connection cut while leadership moves) is a miss to retry.
                    let response = try? await client.send(HTTPClientRequest(method: "POST", url: "\(scheme)://127.0.0.1:\(proxyPorts[index])/tx",
                                                                            body: Array("w\(index)".utf8)))
                    answered.append(response.map { "\($0.status) \($0.bodyText)" } ?? "no answer")
                }
                return answered.allSatisfy { $0.hasPrefix("200 up\(writer + 1) POST /tx") }
            }
            for index in 0..<3 {
                let read = try await client.send(HTTPClientRequest(url: "\(scheme)://127.0.0.1:\(proxyPorts[index])/r"))
                #expect(read.bodyText.hasPrefix("up\(index + 1) GET /r"), "reads stay with the local upstream: \(read.bodyText)")
            }
            // The hop header never reaches an upstream.
            #expect(upstreams.allSatisfy { $0.requests.allSatisfy { $0.headers[RoutingDecision.hopHeader] == nil } })
            await client.shutdown()
            for upstream in upstreams { await upstream.stop() }
        }
    }
}
