import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Testing

/// A `key=app_id` zone counts by the `app_id` of a checked API key. On a method `-api-key-methods`
/// does not check, the header was taken as it came: a client could charge another application's
/// budget with its id, or escape the limit by sending a new id each time. Unchecked requests
/// now count by the client's address.
@Suite("Sidecar proxy: key=app_id counts only checked API keys")
struct RateLimitMiddlewareTests {
    static let limits = ["zone=per_app key=app_id rate=1r/m nodelay status=429"]

    func withKeyedProxy(_ body: (SidecarProxyServer, HTTPClient, String) async throws -> Void) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        let store = InMemoryAPIKeyStore()
        let key = try APIKey.generate()
        store.put(try APIKeyRecord.hashing(appID: "app1", key: key))
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: Self.limits.map { try LimitReqSpec.parse($0) })
        configuration.apiKeys = APIKeySettings(enabled: true, methods: .only(["POST"]))
        try await withProxy(configuration, keys: store) { proxy in
            let client = HTTPClient()
            try await body(proxy, client, key)
            await client.shutdown()
        }
        await upstream.stop()
    }

    func send(_ client: HTTPClient, _ method: String, _ url: String, _ headers: HTTPHeaders) async throws -> Int {
        try await client.send(HTTPClientRequest(method: method, url: url, headers: headers, body: method == "POST" ? Array("{}".utf8) : [])).status
    }

    @Test func anUncheckedAppIDDoesNotChargeThatApplication() async throws {
        try await withKeyedProxy { (proxy, client, key) async throws in
            // GET needs no key here: its app_id is not the application's to spend.
            #expect(try await send(client, "GET", proxy.url + "/tx", ["app_id": "app1"]) == 200)
            #expect(try await send(client, "POST", proxy.url + "/tx", ["app_id": "app1", "app_key": key]) == 200)
            #expect(try await send(client, "POST", proxy.url + "/tx", ["app_id": "app1", "app_key": key]) == 429)
        }
    }

    @Test func newAppIDsOnUncheckedRequestsDoNotEscapeTheLimit() async throws {
        try await withKeyedProxy { (proxy, client, _) async throws in
            #expect(try await send(client, "GET", proxy.url + "/a", ["app_id": "a"]) == 200)
            for id in ["b", "c", "d"] {
                #expect(try await send(client, "GET", proxy.url + "/\(id)", ["app_id": id]) == 429, "app_id \(id)")
            }
            // Without an app_id at all, the same client's bucket.
            #expect(try await send(client, "GET", proxy.url + "/none", [:]) == 429)
        }
    }
}
