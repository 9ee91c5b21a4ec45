import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Synchronization
import Testing

/// nginx runs `limit_req` in its preaccess phase, before any access check: a request refused for
/// its credentials has been charged to its client's bucket by then. The sidecar checked API keys
/// first, so a request refused for its key (401, 403) was charged nowhere: a client could guess
/// keys at full speed, each guess costing a SHA-256 and a store lookup. Zones keyed by the client
/// (`key=addr`, headers) now decide before the key check; `key=app_id` zones still count only
/// keys the check accepted, so no one drains an application's budget by naming it.
@Suite("Sidecar proxy: rate limits decide before the API-key check")
struct RateLimitBeforeKeysTests {
    /// A key store that counts its lookups (one per request the key check reads a record for).
    final class CountingKeyStore: APIKeyStore {
        let keys = InMemoryAPIKeyStore()
        let lookups = Atomic<Int>(0)

        func record(appID: String) -> APIKeyRecord? {
            lookups.add(1, ordering: .relaxed)
            return keys.record(appID: appID)
        }
    }

    /// A proxy that needs a key for POST (app1's is `key`) and applies `limits`.
    func withKeyedProxy(_ limits: [String], inlineLane: Bool = true, hops: HopAuthenticator? = nil,
                        _ body: (SidecarProxyServer, HTTPClient, CountingKeyStore, RecordingUpstream, String) async throws -> Void) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        let store = CountingKeyStore()
        let key = try APIKey.generate()
        store.keys.put(try APIKeyRecord.hashing(appID: "app1", key: key))
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: limits.map { try LimitReqSpec.parse($0) })
        configuration.apiKeys = APIKeySettings(enabled: true, methods: .only(["POST"]))
        configuration.inlineLane = inlineLane
        try await withProxy(configuration, keys: store, hops: hops) { proxy in
            let client = HTTPClient()
            try await body(proxy, client, store, upstream, key)
            await client.shutdown()
        }
        await upstream.stop()
    }

    func send(_ client: HTTPClient, _ method: String, _ url: String, _ headers: HTTPHeaders = [:]) async throws -> HTTPClientResponse {
        try await client.send(HTTPClientRequest(method: method, url: url, headers: headers, body: method == "POST" ? Array("{}".utf8) : []))
    }

    static let wrongKey: HTTPHeaders = ["app_id": "app1", "app_key": "not-the-key-of-app1-at-all"]

    @Test(arguments: [true, false])
    func wrongKeysFromOneClientAreChargedToItsAddress(inlineLane: Bool) async throws {
        try await withKeyedProxy(["rate=1r/m status=429"], inlineLane: inlineLane) { (proxy, client, store, upstream, key) async throws in
            let first = try await send(client, "POST", proxy.url + "/tx", Self.wrongKey)
            #expect(first.status == 403, "\(first.status) \(first.bodyText)")
            // The guess used up the address's bucket: the next guess is refused by the limiter,
            // without a key check, and so is any other request of this client.
            let second = try await send(client, "POST", proxy.url + "/tx", Self.wrongKey)
            #expect(second.status == 429, "a refused key was not charged: \(second.status) \(second.bodyText)")
            #expect(try await send(client, "POST", proxy.url + "/tx", ["app_id": "app1", "app_key": key]).status == 429)
            #expect(try await send(client, "GET", proxy.url + "/read").status == 429, "a read needs no key, same bucket")
            #expect(store.lookups.load(ordering: .relaxed) == 1, "only the first request's key was checked")
            #expect(proxy.metrics.authFailures == 1)
            #expect(proxy.metrics.rateLimitDecisions("rejected") == 3)
            #expect(upstream.requests.isEmpty)
        }
    }

    @Test func aMissingKeyIsChargedToo() async throws {
        try await withKeyedProxy(["rate=1r/m"]) { (proxy, client, store, _, _) async throws in
            #expect(try await send(client, "POST", proxy.url + "/tx").status == 401)
            let second = try await send(client, "POST", proxy.url + "/tx")
            #expect(second.status == 503, "nginx's default limit_req_status: \(second.status) \(second.bodyText)")
            #expect(store.lookups.load(ordering: .relaxed) == 0)
            #expect(proxy.metrics.authFailures == 1)
        }
    }

    @Test func aDelayComesBeforeTheKeyCheck() async throws {
        // One request per 3 s: the second, sent as soon as the first is answered, comes sooner
        // even on a loaded machine (at 1r/s it sometimes came a second later and passed at once).
        try await withKeyedProxy(["rate=20r/m burst=5"]) { (proxy, client, store, _, _) async throws in
            #expect(try await send(client, "POST", proxy.url + "/tx", Self.wrongKey).status == 403)
            // Within the burst: held to the rate, then refused for its key.
            #expect(try await send(client, "POST", proxy.url + "/tx", Self.wrongKey).status == 403)
            #expect(proxy.metrics.rateLimitDecisions("delayed") == 1)
            #expect(store.lookups.load(ordering: .relaxed) == 2)
        }
    }

    @Test func aDryRunCountsRefusedKeysWithoutRejecting() async throws {
        try await withKeyedProxy(["rate=1r/m dry-run"]) { (proxy, client, store, _, _) async throws in
            for _ in 0..<3 {
                #expect(try await send(client, "POST", proxy.url + "/tx", Self.wrongKey).status == 403)
            }
            #expect(proxy.metrics.rateLimitDecisions("passed") == 1)
            #expect(proxy.metrics.rateLimitDecisions("rejected_dry_run") == 2)
            #expect(store.lookups.load(ordering: .relaxed) == 3)
        }
    }

    @Test func wrongKeysNamingAnApplicationDoNotDrainItsAppIDZone() async throws {
        let limits = ["zone=per_client rate=100r/s burst=100 nodelay status=429", "zone=per_app key=app_id rate=1r/m status=429"]
        try await withKeyedProxy(limits) { (proxy, client, _, upstream, key) async throws in
            // The guesses come from 127.0.0.2: per_app counts them by that address (the first is
            // checked, the others are over its limit), never as app1's.
            var guesses: [Int] = []
            for _ in 0..<5 { guesses.append(try await post(to: proxy, from: 2, RateLimitRefusedKeyTests.wrongKey)) }
            #expect(guesses == [403, 429, 429, 429, 429], "\(guesses)")
            let owner: HTTPHeaders = ["app_id": "app1", "app_key": key]
            let first = try await send(client, "POST", proxy.url + "/tx", owner)
            #expect(first.status == 200, "app1's budget was spent by wrong keys: \(first.status) \(first.bodyText)")
            let second = try await send(client, "POST", proxy.url + "/tx", owner)
            #expect(second.status == 429 && second.bodyText.contains("per_app"), "\(second.status) \(second.bodyText)")
            #expect(upstream.requests.count == 1)
        }
    }

    @Test func aProvenHopWithAKeyIsNotLimitedAgain() async throws {
        let hopKey = try HopKey(bytes: Array("a secret every sidecar of the cluster shares!".utf8))
        let sender = HopAuthenticator(key: hopKey, nodeID: "b")
        let limits = ["zone=per_client rate=1r/m status=429", "zone=per_app key=app_id rate=1r/m status=429"]
        try await withKeyedProxy(limits, hops: HopAuthenticator(key: hopKey, nodeID: "n1")) { (proxy, client, _, upstream, key) async throws in
            for index in 0..<3 {
                let headers: HTTPHeaders = [RoutingDecision.hopHeader: "b", "app_id": "app1", "app_key": key,
                                            HopProof.header: sender.proof(method: "POST", target: "/tx", receiver: "n1")]
                let response = try await send(client, "POST", proxy.url + "/tx", headers)
                #expect(response.status == 200, "hop \(index): \(response.status) \(response.bodyText)")
            }
            #expect(proxy.metrics.hops("proven") == 3)
            #expect(upstream.requests.count == 3)
            // A hop's key is still checked.
            let headers: HTTPHeaders = [RoutingDecision.hopHeader: "b", "app_id": "app1", "app_key": "wrong-wrong-wrong-wrong",
                                        HopProof.header: sender.proof(method: "POST", target: "/tx", receiver: "n1")]
            #expect(try await send(client, "POST", proxy.url + "/tx", headers).status == 403)
        }
    }
}
