import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Synchronization
import Testing

/// Sends one POST from 127.0.0.`source` to the proxy (its own connection, closed after the
/// answer) and returns the status (0 when none came).
func post(to proxy: SidecarProxyServer, from source: UInt8, _ headers: [(String, String)]) async throws -> Int {
    let fields = headers.map { "\($0.0): \($0.1)\r\n" }.joined()
    let bytes = Array("POST /tx HTTP/1.1\r\nHost: 127.0.0.1\r\n\(fields)Content-Length: 2\r\nConnection: close\r\n\r\n{}".utf8)
    let port = UInt16(proxy.localAddress?.port ?? 0)
    let responses = try await TimedRequestClient.run([.init(offset: 0, source: source, bytes: bytes)], port: port, lead: 0)
    return responses.first?.status ?? 0
}

/// A `key=app_id` zone counts only keys the check accepted, so wrong keys naming an application
/// do not spend its budget. A request refused for its key (401, 403) was counted by no zone at
/// all: with only `key=app_id` limits, a client could guess keys at full speed. Such a request is
/// now charged to the zone under its client's address (a key no application has), and an address
/// over the limit gets the zone's status before its key is checked, as nginx's `limit_req` runs
/// before access checks.
@Suite("Sidecar proxy: key=app_id zones limit refused keys by address")
struct RateLimitRefusedKeyTests {
    typealias CountingKeyStore = RateLimitBeforeKeysTests.CountingKeyStore

    /// A proxy that needs a key for POST (app1's is `key`) and applies `limits`
    /// (``RateLimitBeforeKeysTests/withKeyedProxy(_:inlineLane:hops:_:)``; these tests send with
    /// their own connections).
    func withKeyedProxy(_ limits: [String], hops: HopAuthenticator? = nil,
                        _ body: (SidecarProxyServer, CountingKeyStore, RecordingUpstream, String) async throws -> Void) async throws {
        try await RateLimitBeforeKeysTests().withKeyedProxy(limits, hops: hops) { proxy, _, store, upstream, key in
            try await body(proxy, store, upstream, key)
        }
    }

    static let wrongKey = [("app_id", "app1"), ("app_key", "not-the-key-of-app1-at-all")]
    static let perApp = "zone=per_app key=app_id rate=1r/m burst=3 nodelay status=429"

    func decisions(_ proxy: SidecarProxyServer, zone: String, _ decision: String) -> String? {
        let line = "disco_proxy_rate_limit_decisions_total{zone=\"\(zone)\",decision=\"\(decision)\"} "
        return proxy.metrics.prometheusText(openHTTPConnections: 0, health: [], process: false)
            .split(separator: "\n").first { $0.hasPrefix(line) }.map { String($0.dropFirst(line.count)) }
    }

    @Test func guessesFromOneAddressAreLimitedAtTheZonesRateAndSpendNoApplicationsBudget() async throws {
        try await withKeyedProxy([Self.perApp]) { (proxy, store, upstream, key) async throws in
            var guesses: [Int] = []
            for _ in 0..<6 { guesses.append(try await post(to: proxy, from: 2, Self.wrongKey)) }
            #expect(guesses == [403, 403, 403, 403, 429, 429], "a refused key was counted nowhere: \(guesses)")
            #expect(store.lookups.load(ordering: .relaxed) == 4, "a guess over the limit is not checked")
            // Over the limit, the address gets 429 whatever it sends: a right guess is not told apart.
            #expect(try await post(to: proxy, from: 2, []) == 429)
            #expect(try await post(to: proxy, from: 2, [("app_id", "app1"), ("app_key", key)]) == 429)
            // app1's own budget (1 + burst 3) is whole, from another address.
            var owner: [Int] = []
            for _ in 0..<5 { owner.append(try await post(to: proxy, from: 3, [("app_id", "app1"), ("app_key", key)])) }
            #expect(owner == [200, 200, 200, 200, 429], "\(owner)")
            #expect(upstream.requests.count == 4)
            // And a missing key from a third address is counted by its own address.
            #expect(try await post(to: proxy, from: 4, []) == 401)
            #expect(proxy.metrics.authFailures == 5)
            #expect(decisions(proxy, zone: "per_app", "rejected") == "5", "2 guesses, a missing and a right key over the limit, 1 of the owner's")
            #expect(decisions(proxy, zone: "per_app", "passed") == "9", "4 guesses, 4 of the owner's, 1 missing key")
        }
    }

    @Test func aDryRunCountsRefusedKeysByAddressWithoutRejecting() async throws {
        try await withKeyedProxy(["zone=per_app key=app_id rate=1r/m dry-run"]) { (proxy, store, _, key) async throws in
            for _ in 0..<3 { #expect(try await post(to: proxy, from: 2, Self.wrongKey) == 403) }
            #expect(decisions(proxy, zone: "per_app", "passed") == "1")
            #expect(decisions(proxy, zone: "per_app", "rejected_dry_run") == "2")
            // The right key from that address would have been refused unchecked: logged, passed on.
            #expect(try await post(to: proxy, from: 2, [("app_id", "app1"), ("app_key", key)]) == 200)
            #expect(decisions(proxy, zone: "per_app", "rejected_dry_run") == "3")
            #expect(decisions(proxy, zone: "per_app", "passed") == "2", "app1's first request")
            #expect(store.lookups.load(ordering: .relaxed) == 4)
        }
    }

    @Test func aDelayHoldsARefusedKeyThenAnswersItsRefusal() async throws {
        try await withKeyedProxy(["zone=per_app key=app_id rate=1r/s burst=5 status=429"]) { (proxy, _, _, _) async throws in
            #expect(try await post(to: proxy, from: 2, Self.wrongKey) == 403)
            #expect(try await post(to: proxy, from: 2, Self.wrongKey) == 403)
            #expect(decisions(proxy, zone: "per_app", "delayed") == "1")
        }
    }

    /// An address refused over the limit stays the zone's most recently used, as nginx keeps a
    /// rejected client's state: a full zone forgets other clients first. It was not touched by
    /// the look before the key check, aged while refused, and was the first one evicted: then it
    /// had a whole new burst of guesses.
    @Test func anAddressRefusedOverTheLimitIsNotTheFirstAFullZoneForgets() async throws {
        let limits = ["zone=per_app key=app_id rate=1r/m burst=1 nodelay status=429 size=32k"]
        try await withKeyedProxy(limits) { (proxy, _, _, _) async throws in
            var guesses: [Int] = []
            for _ in 0..<3 { guesses.append(try await post(to: proxy, from: 2, Self.wrongKey)) }
            #expect(guesses == [403, 403, 429])
            // 190 other addresses guess once each: with 127.0.0.2 the 32k zone holds 191 states.
            for source in 3..<193 { #expect(try await post(to: proxy, from: UInt8(source), Self.wrongKey) == 403) }
            #expect(try await post(to: proxy, from: 2, Self.wrongKey) == 429)
            // A new address evicts the least recently used: 127.0.0.3, not the refused guesser.
            #expect(try await post(to: proxy, from: 193, Self.wrongKey) == 403)
            #expect(try await post(to: proxy, from: 2, Self.wrongKey) == 429, "the guesser was forgotten: a new burst")
        }
    }

    @Test func aProvenHopRefusedForItsKeyIsNotCountedAgain() async throws {
        let hopKey = try HopKey(bytes: Array("a secret every sidecar of the cluster shares!".utf8))
        let sender = HopAuthenticator(key: hopKey, nodeID: "b")
        let limits = ["zone=per_app key=app_id rate=1r/m status=429"]
        try await withKeyedProxy(limits, hops: HopAuthenticator(key: hopKey, nodeID: "n1")) { (proxy, _, _, _) async throws in
            for index in 0..<3 {
                let hop = [(RoutingDecision.hopHeader, "b"), (HopProof.header, sender.proof(method: "POST", target: "/tx", receiver: "n1"))]
                let status = try await post(to: proxy, from: 2, hop + Self.wrongKey)
                #expect(status == 403, "hop \(index): \(status)")
            }
            #expect(proxy.metrics.hops("proven") == 3)
            // The forwarding sidecar's address has spent nothing here.
            #expect(try await post(to: proxy, from: 2, Self.wrongKey) == 403)
            #expect(try await post(to: proxy, from: 2, Self.wrongKey) == 429)
        }
    }
}
