import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Synchronization
import Testing

// MARK: - Where a key was checked

/// Keys in memory that note where each lookup ran: in a Swift task (the middleware chain) or on
/// a loop thread outside any task (the proxy's inline lane). Reads' and writes' currency are as
/// the test sets them.
final class WhereCheckedKeys: APIKeyStore {
    private let records = Mutex<[String: APIKeyRecord]>([:])
    private let lookups = Mutex((inTask: 0, outsideTasks: 0))
    /// Set: reads are refused as stale for this reason.
    let readProblem = Mutex<String?>(nil)
    /// What a write's wait for current keys ends with.
    let writeOutcome = Mutex(APIKeyCurrency.current)

    func record(appID: String) -> APIKeyRecord? {
        let inTask = withUnsafeCurrentTask { $0 != nil }
        lookups.withLock { inTask ? ($0.inTask += 1) : ($0.outsideTasks += 1) }
        return records.withLock { $0[appID] }
    }

    /// Adds `appID`'s key.
    func put(_ appID: String, key: String) throws {
        let record = try APIKeyRecord.hashing(appID: appID, key: key)
        records.withLock { $0[appID] = record }
    }

    /// Marks `appID`'s key revoked.
    func revoke(_ appID: String) { records.withLock { $0[appID]?.revoked = true } }

    func readCurrency() -> APIKeyCurrency { readProblem.withLock { $0 }.map { .stale($0) } ?? .current }

    func writeCurrency() async -> APIKeyCurrency { writeOutcome.withLock { $0 } }

    /// Lookups made in a task, and outside any.
    var counts: (inTask: Int, outsideTasks: Int) { lookups.withLock { $0 } }
}

// MARK: - Tests

/// A request whose method needs an API key always left the inline lane for the middleware
/// chain (a task per request), though checking a key never waits: the store answers from
/// memory, the hash takes a microsecond. A read that needs a key (`-api-key-methods GET,…`) now
/// has its key checked on the lane, with the same answers; a write at the writer still leaves
/// it, since it waits for keys confirmed current.
@Suite("Sidecar proxy: keys of reads are checked on the inline lane", .timeLimit(.minutes(3)))
struct InlineLaneAPIKeyTests {
    static let key = "the-key-of-app1-0123456789abcdef"

    /// A proxy in front of a recording upstream (default routes: GET, HEAD, OPTIONS here, the rest
    /// to the writer, this sidecar) needing a key for `methods`, `app1`'s being ``key``.
    func withKeyedProxy(methods: APIKeyMethods, lane: Bool = true, limits: [String] = [],
                        _ body: (SidecarProxyServer, HTTPClient, WhereCheckedKeys, RecordingUpstream) async throws -> Void) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        let store = WhereCheckedKeys()
        try store.put("app1", key: Self.key)
        try store.put("app2", key: Self.key)
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.apiKeys = APIKeySettings(enabled: true, methods: methods)
        configuration.inlineLane = lane
        configuration.rateLimit = try RateLimitConfiguration(flags: limits.map { try LimitReqSpec.parse($0) })
        do {
            try await withProxy(configuration, keys: store) { proxy in
                let client = HTTPClient()
                do {
                    try await body(proxy, client, store, upstream)
                } catch {
                    await client.shutdown()
                    throw error
                }
                await client.shutdown()
            }
        } catch {
            await upstream.stop()
            throw error
        }
        await upstream.stop()
    }

    static func credentials(_ appID: String = "app1", key: String = InlineLaneAPIKeyTests.key) -> HTTPHeaders {
        ["app_id": appID, "app_key": key]
    }

    func send(_ client: HTTPClient, _ method: String, _ url: String, _ headers: HTTPHeaders = [:]) async throws -> HTTPClientResponse {
        try await client.send(HTTPClientRequest(method: method, url: url, headers: headers))
    }

    @Test func aKeyedReadIsCheckedWithoutATaskAndItsCredentialsStayBehind() async throws {
        try await withKeyedProxy(methods: .only(["GET"])) { proxy, client, store, upstream in
            for index in 0..<5 {
                let read = try await send(client, "GET", proxy.url + "/r\(index)", Self.credentials())
                #expect(read.status == 200, "\(read.status) \(read.bodyText)")
            }
            let counts = store.counts
            #expect(counts.inTask == 0 && counts.outsideTasks == 5,
                    "keys of reads looked up in a task (the middleware) \(counts.inTask) times, on the lane \(counts.outsideTasks)")
            let seen = upstream.requests
            #expect(seen.map(\.target) == (0..<5).map { "/r\($0)" })
            #expect(seen.allSatisfy { !$0.headers.contains("app_id") && !$0.headers.contains("app_key") }, "credentials reached the upstream")
        }
    }

    @Test func aKeyedReadIsRefusedOnTheLaneAsTheMiddlewareRefusesIt() async throws {
        try await withKeyedProxy(methods: .only(["GET"])) { proxy, client, store, upstream in
            let missing = try await send(client, "GET", proxy.url + "/r", ["app_id": "app1"])
            #expect(missing.status == 401, "\(missing.status) \(missing.bodyText)")
            #expect(missing.headers["WWW-Authenticate"]?.hasPrefix("AppKey ") == true, "the lane's 401 carries the challenge too")
            let unknown = try await send(client, "GET", proxy.url + "/r", Self.credentials("app9"))
            #expect(unknown.status == 403 && unknown.bodyText.contains("has no API key"), "\(unknown.status) \(unknown.bodyText)")
            let wrong = try await send(client, "GET", proxy.url + "/r", Self.credentials(key: "not-the-key-of-app1-at-all"))
            #expect(wrong.status == 403 && wrong.bodyText.contains("is not the key"), "\(wrong.status) \(wrong.bodyText)")
            // A revocation counts from the moment the store holds it.
            #expect(try await send(client, "GET", proxy.url + "/r", Self.credentials()).status == 200)
            store.revoke("app1")
            let revoked = try await send(client, "GET", proxy.url + "/r", Self.credentials())
            #expect(revoked.status == 403 && revoked.bodyText.contains("revoked"), "\(revoked.status) \(revoked.bodyText)")
            // Keys too stale for a read: 503 with reason stale.
            store.readProblem.withLock { $0 = "no word from the leader" }
            let stale = try await send(client, "GET", proxy.url + "/r", Self.credentials("app2"))
            #expect(stale.status == 503, "\(stale.status) \(stale.bodyText)")
            let json = try JSONValue.parse(stale.body)
            #expect(json["reason"]?.stringValue == "stale" && json["error"]?.stringValue?.contains("no word from the leader") == true, "\(json)")
            #expect(upstream.requests.count == 1, "only the accepted read reached the upstream: \(upstream.requests.map(\.target))")
            #expect(store.counts.inTask == 0, "a key was looked up in a task: \(store.counts)")
        }
    }

    /// The same requests, with the lane on and off: the same answers, metrics and upstream requests.
    @Test func bothPathsAnswerKeyedReadsTheSame() async throws {
        func run(lane: Bool) async throws -> (answers: [String], metrics: [Int], upstream: [String]) {
            var result: (answers: [String], metrics: [Int], upstream: [String]) = ([], [], [])
            try await withKeyedProxy(methods: .only(["GET", "DELETE"]), lane: lane,
                                     limits: ["zone=per_client rate=1000r/s burst=1000 nodelay"]) { proxy, client, store, upstream in
                let requests: [(String, HTTPHeaders)] = [
                    ("GET", Self.credentials()), ("HEAD", Self.credentials()), ("GET", [:]), ("HEAD", ["app_key": Self.key]),
                    ("GET", Self.credentials("app9")), ("GET", Self.credentials(key: "wrong-key-wrong-key-wrong-key")),
                    ("OPTIONS", Self.credentials()), ("DELETE", Self.credentials()), ("DELETE", [:]),
                ]
                for (method, headers) in requests {
                    let answer = try await send(client, method, proxy.url + "/p?m=\(method)", headers)
                    result.answers.append("\(method) \(answer.status) \(answer.bodyText)")
                }
                store.revoke("app1")
                let revoked = try await send(client, "GET", proxy.url + "/p", Self.credentials())
                result.answers.append("revoked \(revoked.status) \(revoked.bodyText)")
                store.readProblem.withLock { $0 = "no word from the leader" }
                for method in ["GET", "DELETE"] {
                    let stale = try await send(client, method, proxy.url + "/p", Self.credentials("app2"))
                    result.answers.append("stale \(method) \(stale.status) \(stale.bodyText)")
                }
                result.metrics = [proxy.metrics.authFailures, proxy.metrics.rateLimitDecisions("passed")]
                    + [200, 401, 403, 503].map { proxy.metrics.requests(status: $0) }
                result.upstream = upstream.requests.map { "\($0.method) \($0.target) \($0.headers.fields.map(\.name).sorted())" }
            }
            return result
        }
        let old = try await run(lane: false)
        let lane = try await run(lane: true)
        #expect(lane.answers == old.answers)
        #expect(lane.metrics == old.metrics, "auth failures, passed, requests 200/401/403/503: lane \(lane.metrics), old \(old.metrics)")
        #expect(lane.upstream == old.upstream)
        // The comparison means something only if the requests did what they were meant to.
        #expect(old.answers.filter { $0.contains(" 200 ") || $0.hasSuffix(" 200 ") }.count >= 3, "\(old.answers)")
        #expect(old.answers.contains { $0.hasPrefix("stale GET 503") } && old.answers.contains { $0.hasPrefix("revoked 403") }, "\(old.answers)")
    }

    /// A write here at the writer waits for keys confirmed current, even without a body: the
    /// lane leaves it to the middleware, whose wait decides.
    @Test func aKeyedWriteAtTheWriterStillWaitsForCurrentKeys() async throws {
        try await withKeyedProxy(methods: .writes) { proxy, client, store, upstream in
            store.writeOutcome.withLock { $0 = .stale("the leader cannot be reached") }
            let refused = try await send(client, "DELETE", proxy.url + "/w", Self.credentials())
            #expect(refused.status == 503 && refused.bodyText.contains("the leader cannot be reached"), "\(refused.status) \(refused.bodyText)")
            store.writeOutcome.withLock { $0 = .caughtUp }
            store.revoke("app2")
            let revoked = try await send(client, "DELETE", proxy.url + "/w", Self.credentials("app2"))
            #expect(revoked.status == 403, "\(revoked.status) \(revoked.bodyText)")
            let passed = try await send(client, "DELETE", proxy.url + "/w", Self.credentials())
            #expect(passed.status == 200, "\(passed.status) \(passed.bodyText)")
            #expect(upstream.requests.map(\.method) == ["DELETE"])
            #expect(store.counts.outsideTasks == 0, "a write's key was checked on the lane: \(store.counts)")
        }
    }

    /// A `key=app_id` zone decides around the key check: keyed reads are counted by their
    /// application, as the middleware counts them.
    @Test func appIDZonesStillCountKeyedReadsByApplication() async throws {
        try await withKeyedProxy(methods: .only(["GET"]), limits: ["zone=per_app key=app_id rate=1r/m nodelay status=429"]) {
            (proxy, client, _, _) async throws in
            #expect(try await send(client, "GET", proxy.url + "/a", Self.credentials()).status == 200)
            #expect(try await send(client, "GET", proxy.url + "/a", Self.credentials()).status == 429)
            #expect(try await send(client, "GET", proxy.url + "/a", Self.credentials("app2")).status == 200)
        }
    }
}
