import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Testing

/// Sends one request from 127.0.0.`source` to the proxy (its own connection, closed after the
/// answer) and returns the status (0 when none came).
func sendOne(_ method: String = "GET", to proxy: SidecarProxyServer, from source: UInt8, _ headers: [(String, String)] = []) async throws -> Int {
    let fields = headers.map { "\($0.0): \($0.1)\r\n" }.joined()
    let body = method == "POST" ? "Content-Length: 2\r\n" : ""
    let bytes = Array("\(method) /z HTTP/1.1\r\nHost: 127.0.0.1\r\n\(fields)\(body)Connection: close\r\n\r\n\(method == "POST" ? "{}" : "")".utf8)
    let responses = try await TimedRequestClient.run([.init(offset: 0, source: source, bytes: bytes)], port: UInt16(proxy.localAddress?.port ?? 0), lead: 0)
    return responses.first?.status ?? 0
}

/// `disco_proxy_rate_limit_decisions_total` counted one decision per request, under the first
/// zone of the limits that decided it (or the one that delayed or rejected it): with two zones,
/// the second showed nothing passed, nor a request it delayed while another zone delayed it
/// longer; and a passed request counted under a zone whose key the request did not have.
/// Each zone now counts what it did with the request: passed, delayed or rejected (dry run
/// suffixed) when it charged or rejected it, nothing when it only looked (a later zone rejected
/// it: nginx charges none) or was not asked (its key was empty, or an earlier zone rejected).
@Suite("Sidecar proxy: rate-limit decisions are counted per zone")
struct RateLimitZoneMetricTests {
    /// The zones' counts from `/.sidecar/metrics`: zone → decision → count.
    static func decisions(_ proxy: SidecarProxyServer) async throws -> [String: [String: Int]] {
        let client = HTTPClient()
        let text = try await client.send(HTTPClientRequest(url: proxy.url + "/.sidecar/metrics")).bodyText
        await client.shutdown()
        var counts: [String: [String: Int]] = [:]
        let prefix = "disco_proxy_rate_limit_decisions_total{zone=\""
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            let rest = line.dropFirst(prefix.count)
            guard let zoneEnd = rest.firstIndex(of: "\""), let labelsEnd = rest.firstIndex(of: "}") else { continue }
            let zone = String(rest[..<zoneEnd])
            let decision = rest[rest.index(zoneEnd, offsetBy: 12)..<rest.index(before: labelsEnd)]
            counts[zone, default: [:]][String(decision)] = Int(rest[rest.index(after: labelsEnd)...].trimmingPrefix(" "))
        }
        return counts
    }

    func withZones(_ limits: [String], inlineLane: Bool = true, shared: Set<Int> = [], apiKeys: Bool = false,
                   _ body: (SidecarProxyServer, String) async throws -> Void) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        let store = InMemoryAPIKeyStore()
        let key = try APIKey.generate()
        store.put(try APIKeyRecord.hashing(appID: "app1", key: key))
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: limits.map { try LimitReqSpec.parse($0) })
        configuration.rateLimit.sharedZones = shared
        configuration.inlineLane = inlineLane
        if apiKeys { configuration.apiKeys = APIKeySettings(enabled: true, methods: .only(["POST"])) }
        let hops = shared.isEmpty ? nil : HopAuthenticator(key: try HopKey(bytes: Array("a secret every sidecar of the cluster shares!".utf8)), nodeID: "n1")
        try await withProxy(configuration, keys: store, hops: hops) { proxy in try await body(proxy, key) }
        await upstream.stop()
    }

    static let twoZones = ["zone=per_ip rate=1r/m burst=1 nodelay status=429",
                           "zone=per_app key=header:X-App rate=1r/m burst=2 nodelay status=503"]

    /// Each address may send 2 requests, each application 3.
    @Test(arguments: [(true, false), (false, false), (true, true)])
    func eachZoneCountsWhatItDidWithTheRequest(inlineLane: Bool, sharedPerApp: Bool) async throws {
        try await withZones(Self.twoZones, inlineLane: inlineLane, shared: sharedPerApp ? [1] : []) { (proxy, _) async throws in
            let app = [("X-App", "a")]
            #expect(try await sendOne(to: proxy, from: 2, app) == 200)
            #expect(try await sendOne(to: proxy, from: 2, app) == 200)
            #expect(try await sendOne(to: proxy, from: 2, app) == 429, "per_ip rejects; per_app is not asked")
            #expect(try await sendOne(to: proxy, from: 3, app) == 200, "application a's third")
            #expect(try await sendOne(to: proxy, from: 4, app) == 503, "per_app rejects; per_ip looked, and charged nothing")
            // Without the header per_app does not apply; 127.0.0.4 has its 2 requests whole.
            #expect(try await sendOne(to: proxy, from: 4) == 200)
            #expect(try await sendOne(to: proxy, from: 4) == 200)
            #expect(try await sendOne(to: proxy, from: 4) == 429)
            let counts = try await Self.decisions(proxy)
            #expect(counts["per_ip"] == ["passed": 5, "rejected": 2], "\(counts)")
            #expect(counts["per_app"] == ["passed": 3, "rejected": 1], "\(counts)")
        }
    }

    /// In dry run nothing waits, so the delays of a paced zone show at once.
    @Test func aDryRunCountsEachZonesDelaysAndRejections() async throws {
        let limits = ["zone=per_ip rate=1r/m burst=1 dry-run", "zone=per_app key=header:X-App rate=1r/m burst=5 nodelay dry-run"]
        try await withZones(limits) { (proxy, _) async throws in
            for _ in 0..<3 { #expect(try await sendOne(to: proxy, from: 2, [("X-App", "a")]) == 200) }
            let counts = try await Self.decisions(proxy)
            // per_ip: 1 passed, then would delay 60 s (per_app passed that one), then would reject.
            #expect(counts["per_ip"] == ["passed": 1, "delayed_dry_run": 1, "rejected_dry_run": 1], "\(counts)")
            #expect(counts["per_app"] == ["passed": 2], "\(counts)")
        }
    }

    /// `key=app_id` zones decide after the key check, together; a refused key is charged to each
    /// of them under its client's address, and each counts it.
    @Test func keyedZonesCountPerZoneAroundTheKeyCheck() async throws {
        let limits = ["zone=app_a key=app_id rate=1r/m burst=1 nodelay status=429", "zone=app_b key=app_id rate=1r/m burst=3 nodelay status=503"]
        try await withZones(limits, apiKeys: true) { (proxy, key) async throws in
            let wrong = [("app_id", "app1"), ("app_key", "not-the-key-of-app1-at-all")]
            #expect(try await sendOne("POST", to: proxy, from: 2, wrong) == 403)
            #expect(try await sendOne("POST", to: proxy, from: 2, wrong) == 403)
            #expect(try await sendOne("POST", to: proxy, from: 2, wrong) == 429, "app_a rejects the address unchecked")
            let right = [("app_id", "app1"), ("app_key", key)]
            #expect(try await sendOne("POST", to: proxy, from: 3, right) == 200)
            #expect(try await sendOne("POST", to: proxy, from: 3, right) == 200)
            #expect(try await sendOne("POST", to: proxy, from: 3, right) == 429)
            let counts = try await Self.decisions(proxy)
            #expect(counts["app_a"] == ["passed": 4, "rejected": 2], "\(counts)")
            #expect(counts["app_b"] == ["passed": 4], "\(counts)")
        }
    }
}
