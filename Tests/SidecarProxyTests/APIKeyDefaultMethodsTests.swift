import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Testing

// MARK: - The methods that need a key by default

/// The default routes send GET, HEAD and OPTIONS to the local upstream and every other method to
/// the writer, but API keys were needed by default only for POST, PUT, PATCH and DELETE: a `FOO`
/// reached the writer's upstream without a key, and counted by its client's address in a
/// `key=app_id` zone even with a key. Every method except GET, HEAD and OPTIONS needs one now.
@Suite("Sidecar proxy: by default every method except GET, HEAD and OPTIONS needs an API key")
struct APIKeyDefaultMethodsTests {
    @Test(arguments: [true, false])
    func aMethodNoListNamesNeedsAKey(inlineLane: Bool) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.apiKeys = APIKeySettings(enabled: true)
        configuration.inlineLane = inlineLane
        try await withProxy(configuration) { proxy in
            let client = HTTPClient()
            // `get` is not GET to the routes: it goes to the writer, so it needs a key too.
            for method in ["FOO", "PROPPATCH", "MERGE", "get", "head", "Options"] {
                let answer = try await client.send(HTTPClientRequest(method: method, url: proxy.url + "/x", body: Array("{}".utf8)))
                #expect(answer.status == 401, "\(method) without a key: \(answer.status) \(answer.bodyText)")
            }
            #expect(upstream.requests.isEmpty, "a request without a key reached the upstream: \(upstream.requests.map(\.method))")
            for method in ["GET", "HEAD", "OPTIONS"] {
                let answer = try await client.send(HTTPClientRequest(method: method, url: proxy.url + "/x"))
                #expect(answer.status == 200, "\(method) needs no key: \(answer.status) \(answer.bodyText)")
            }
            await client.shutdown()
        }
        await upstream.stop()
    }

    /// A `FOO` with a checked key counts by its `app_id` in a `key=app_id` zone (the key was
    /// checked), and a GET, which needs no key, by its client's address.
    @Test func aCheckedMethodCountsByItsAppID() async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        let store = InMemoryAPIKeyStore()
        let key = try APIKey.generate()
        store.put(try APIKeyRecord.hashing(appID: "app1", key: key))
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("zone=per_app key=app_id rate=1r/m nodelay status=429")])
        configuration.apiKeys = APIKeySettings(enabled: true)
        try await withProxy(configuration, keys: store) { proxy async throws in
            let client = HTTPClient()
            let credentials: HTTPHeaders = ["app_id": "app1", "app_key": key]
            func send(_ method: String, _ headers: HTTPHeaders) async throws -> Int {
                try await client.send(HTTPClientRequest(method: method, url: proxy.url + "/x", headers: headers)).status
            }
            #expect(try await send("FOO", credentials) == 200)
            #expect(try await send("GET", ["app_id": "app1"]) == 200, "the GET counts by address, not in app1's spent budget")
            #expect(try await send("FOO", credentials) == 429, "app1's budget is spent")
            await client.shutdown()
        }
        await upstream.stop()
    }
}
