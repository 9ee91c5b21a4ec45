import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

// MARK: - API credentials never reach the upstream, however they are spelled

/// `app_id` and `app_key` are removed before a request reaches the upstream in every spelling
/// that names them there: any case, repeated, and with `-` for `_`. CGI-style servers (WSGI such
/// as gunicorn, Rack, PHP) and nginx's `$http_app_key` read `App-Key` as the same field as
/// `app_key` (`HTTP_APP_KEY`; gunicorn 22 and nginx by default drop the underscore spelling
/// and keep only this one), so a key sent as `App-Key` reached the application, and an `App-Id`
/// passed along with a checked `app_id` named another application to it.
@Suite("Sidecar proxy: API credentials never reach the upstream, in any spelling")
struct CredentialSpellingsTests {
    static let key = "the-key-of-app1-0123456789abcdef"

    /// Field names that are `app_id` or `app_key` to an upstream.
    static func isCredential(_ name: String) -> Bool {
        let folded = String(name.lowercased().map { $0 == "-" ? "_" : $0 })
        return folded == "app_id" || folded == "app_key"
    }

    /// The credentials the client checks with, and others spelled as an upstream reads them too.
    static func headers(checked: Bool) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if checked {
            headers.add(name: "APP_ID", value: "app1")
            headers.add(name: "App_Key", value: key)
            headers.add(name: "app_key", value: "a-second-app-key-field-0123456789")
        }
        headers.add(name: "App-Key", value: "secret-in-the-dash-spelling-01234")
        headers.add(name: "app-id", value: "someone-else")
        headers.add(name: "X-Kept", value: "1")
        return headers
    }

    @Test(arguments: [true, false])
    func noSpellingOfACredentialReachesTheUpstream(inlineLane: Bool) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        let store = InMemoryAPIKeyStore()
        store.put(try APIKeyRecord.hashing(appID: "app1", key: Self.key))
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.apiKeys = APIKeySettings(enabled: true, methods: .only(["POST", "PUT"]))
        configuration.inlineLane = inlineLane
        try await withProxy(configuration, keys: store) { proxy in
            let client = HTTPClient()
            // A read that needs no key (the inline lane takes its head in place), and writes
            // whose key is checked.
            let read = try await client.send(HTTPClientRequest(method: "GET", url: proxy.url + "/r", headers: Self.headers(checked: false)))
            #expect(read.status == 200, "\(read.status) \(read.bodyText)")
            let write = try await client.send(HTTPClientRequest(method: "POST", url: proxy.url + "/w", headers: Self.headers(checked: true),
                                                                body: Array("{}".utf8)))
            #expect(write.status == 200, "the first app_id and app_key are the checked ones: \(write.status) \(write.bodyText)")
            let bodyless = try await client.send(HTTPClientRequest(method: "PUT", url: proxy.url + "/w", headers: Self.headers(checked: true)))
            #expect(bodyless.status == 200, "\(bodyless.status) \(bodyless.bodyText)")
            let seen = upstream.requests
            #expect(seen.count == 3)
            for request in seen {
                let leaked = request.headers.fields.filter { Self.isCredential($0.name) }.map(\.name)
                #expect(leaked.isEmpty, "\(request.method) reached the upstream with \(leaked)")
                #expect(request.headers["X-Kept"] == "1", "the other fields go on")
            }
            await client.shutdown()
        }
        await upstream.stop()
    }
}
