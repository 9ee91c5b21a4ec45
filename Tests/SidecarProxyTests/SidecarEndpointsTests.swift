import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

// MARK: - The sidecar's own endpoints

@Suite("Sidecar proxy: its own endpoints under /.sidecar/")
struct SidecarEndpointsTests {
    /// `/.sidecar/readyz` and `/.sidecar/metrics` answered only GET: a HEAD probe of readiness
    /// (HTTP requires HEAD wherever GET is answered) got 404, as did any other method, which
    /// said the endpoint does not exist. HEAD now answers as GET does, without a body, and
    /// another method gets 405 with `Allow`.
    @Test func headAnswersLikeGetAndOtherMethodsAre405WithAllow() async throws {
        let upstream = try await RecordingUpstream.start(name: "svc")
        try await withProxy(proxyConfiguration([("local", upstream.address)])) { proxy in
            let client = HTTPClient()
            for path in ["/.sidecar/readyz", "/.sidecar/metrics"] {
                let get = try await client.send(HTTPClientRequest(method: "GET", url: proxy.url + path), timeout: .seconds(10))
                #expect(get.status == 200, "GET \(path): \(get.status) \(get.bodyText)")
                let head = try await client.send(HTTPClientRequest(method: "HEAD", url: proxy.url + path), timeout: .seconds(10))
                #expect(head.status == 200, "HEAD \(path): \(head.status)")
                #expect(head.body.isEmpty)
                let post = try await client.send(HTTPClientRequest(method: "POST", url: proxy.url + path, body: [1]), timeout: .seconds(10))
                #expect(post.status == 405, "POST \(path): \(post.status) \(post.bodyText)")
                #expect(post.headers["Allow"] == "GET, HEAD", "POST \(path): \(post.headers)")
                #expect(post.bodyText.contains("GET"), "\(post.bodyText)")
            }
            let unknown = try await client.send(HTTPClientRequest(method: "GET", url: proxy.url + "/.sidecar/nothing"), timeout: .seconds(10))
            #expect(unknown.status == 404, "\(unknown.status) \(unknown.bodyText)")
            #expect(upstream.requests.isEmpty, "the sidecar's own paths never reach the upstream")
            await client.shutdown()
        }
        await upstream.stop()
    }
}
