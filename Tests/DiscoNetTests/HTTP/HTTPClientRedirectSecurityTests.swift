import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

/// Followed redirects never leave TLS for plain HTTP, and carry credentials to another origin
/// only when the caller allows it (a cluster whose nodes redirect to their leader).
@Suite("HTTP client redirect security")
struct HTTPClientRedirectSecurityTests {
    /// What a server saw: `METHOD target auth=<Authorization> body=<body>` per request.
    private final class Seen: Sendable {
        private let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }

        func handler(_ text: String = "ok") -> HTTPHandler {
            { request in
                let line = "\(request.method) \(request.target) auth=\(request.headers["Authorization"] ?? "-") body=\(request.bodyText)"
                self.lines.withLock { $0.append(line) }
                return .text(text)
            }
        }
    }

    private static let basic = "Basic YWRtaW46c2VjcmV0"  // admin:secret

    private func redirecting(to location: String) -> HTTPHandler {
        { _ in HTTPResponse(status: 307, headers: ["Location": location]) }
    }

    private func post(_ url: String) -> HTTPClientRequest {
        HTTPClientRequest(method: "POST", url: url, headers: ["Authorization": Self.basic], body: Array("{\"id\":\"n2\"}".utf8))
    }

    @Test func aRedirectFromHTTPSToHTTPIsRefusedAndNamesBothURLs() async throws {
        let certificates = try await TLSTestCertificates.get()
        let plain = Seen()
        try await withServer(handler: plain.handler()) { target in
            let location = "http://127.0.0.1:\(target.localAddress.port)/remove"
            try await withTLSServer(certificates.serverTLS(), handler: redirecting(to: location)) { leaderless, _ in
                let (client, _) = try tlsClient(certificates.clientTLS())
                let from = httpsURL(leaderless, "/remove")
                for credentials in [HTTPRedirectCredentials.sameOrigin, .clusterPeers] {
                    do {
                        let response = try await client.send(post(from), followingRedirects: 10, credentials: credentials)
                        Issue.record("followed https to http: \(response.status) \(response.bodyText)")
                    } catch let error as HTTPClientError {
                        #expect(error.code == .insecureRedirect)
                        #expect(error.detail.contains(from) && error.detail.contains(location), "\(error)")
                        #expect(error.detail.contains("credentials") && error.detail.contains("unencrypted"), "\(error)")
                    }
                }
                #expect(plain.all.isEmpty, "the plain HTTP server received \(plain.all)")
                await client.shutdown()
            }
        }
    }

    @Test func credentialsStayWithTheirOriginUnlessTheCallerTrustsClusterPeers() async throws {
        let leader = Seen()
        try await withServer(handler: leader.handler("leader")) { leaderServer in
            let location = "http://127.0.0.1:\(leaderServer.localAddress.port)/remove"
            try await withServer(handler: redirecting(to: location)) { follower in
                let client = HTTPClient()
                let from = "http://127.0.0.1:\(follower.localAddress.port)/remove"
                let stranger = try await client.send(post(from), followingRedirects: 10)
                #expect(stranger.bodyText == "leader")
                let peer = try await client.send(post(from), followingRedirects: 10, credentials: .clusterPeers)
                #expect(peer.bodyText == "leader")
                #expect(leader.all == [
                    "POST /remove auth=- body={\"id\":\"n2\"}",
                    "POST /remove auth=\(Self.basic) body={\"id\":\"n2\"}",
                ])
                await client.shutdown()
            }
        }
    }

    /// The cluster's normal path over TLS: a follower's 307 to the leader, another origin with
    /// the same scheme, repeats the request with its body and credentials.
    @Test func aLeaderRedirectBetweenHTTPSNodesKeepsBodyAndCredentials() async throws {
        let certificates = try await TLSTestCertificates.get()
        let leader = Seen()
        try await withTLSServer(certificates.serverTLS(), handler: leader.handler("leader")) { leaderServer, _ in
            try await withTLSServer(certificates.serverTLS(), handler: redirecting(to: httpsURL(leaderServer, "/remove"))) { follower, _ in
                let (client, _) = try tlsClient(certificates.clientTLS())
                let response = try await client.send(post(httpsURL(follower, "/remove")), followingRedirects: 10, credentials: .clusterPeers)
                #expect(response.bodyText == "leader")
                #expect(leader.all == ["POST /remove auth=\(Self.basic) body={\"id\":\"n2\"}"])
                await client.shutdown()
            }
        }
    }
}
