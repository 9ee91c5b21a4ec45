import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

// MARK: - Which requests need an API key

/// A method needs a key whatever its spelling reaches the proxy in: methods are tokens, but
/// many upstreams (WSGI and Rack frameworks, for one) upper-case them, so a `post` the key
/// check let through would be served as the `POST` it protects. `HEAD` runs an upstream's `GET`
/// handler, so it needs a key whenever `GET` does.
@Suite("Sidecar proxy: the methods that need an API key")
struct APIKeyMethodTests {
    func configuration(_ upstream: RecordingUpstream, methods: APIKeyMethods = .writes) -> ProxyConfiguration {
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.apiKeys = APIKeySettings(enabled: true, methods: methods)
        return configuration
    }

    @Test(arguments: [APIKeyMethods.writes, .only(["POST", "PUT", "DELETE"])])
    func aWriteMethodInLowerCaseStillNeedsAKey(methods: APIKeyMethods) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        try await withProxy(configuration(upstream, methods: methods)) { proxy in
            let client = HTTPClient()
            for method in ["post", "Put", "delete"] {
                let answer = try await client.send(HTTPClientRequest(method: method, url: proxy.url + "/tx", body: Array("{}".utf8)))
                #expect(answer.status == 401, "\(method) without a key: \(answer.status) \(answer.bodyText)")
            }
            #expect(upstream.requests.isEmpty, "a write without a key reached the upstream: \(upstream.requests.map(\.method))")
            await client.shutdown()
        }
        await upstream.stop()
    }

    @Test func headNeedsAKeyWhenGetDoes() async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        try await withProxy(configuration(upstream, methods: .only(["GET"]))) { proxy in
            let client = HTTPClient()
            #expect(try await client.send(HTTPClientRequest(method: "GET", url: proxy.url + "/private")).status == 401)
            let head = try await client.send(HTTPClientRequest(method: "HEAD", url: proxy.url + "/private"))
            #expect(head.status == 401, "HEAD without a key: \(head.status)")
            #expect(upstream.requests.isEmpty, "a read without a key reached the upstream: \(upstream.requests.map(\.method))")
            await client.shutdown()
        }
        await upstream.stop()
    }
}
