import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Testing

// MARK: - A zone with no room for a new key

/// A zone full of short keys has no room for a long one even after forgetting its least recently
/// used client (nginx: "could not allocate node"), and the request gets the zone's status. That
/// rejection was counted as a plain `rejected` in `disco_proxy_rate_limit_decisions_total`, and
/// logged only at debug level, like a client over its rate: an operator could not tell a zone too
/// small for its clients from clients sending too fast. It now counts as `zone_full` (dry run
/// suffixed) and is logged as a warning naming the zone.
@Suite("Sidecar proxy: a rejection by a full zone is counted and logged as such", .timeLimit(.minutes(2)))
struct RateLimitZoneFullTests {
    /// Short keys sent to fill the zone (a 32k zone holds 191); the later ones evict the earlier.
    static let shortKeys = 250

    @Test(arguments: [false, true])
    func aFullZoneRejectionCountsAsZoneFull(dryRun: Bool) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: [
            try LimitReqSpec.parse("zone=small key=header:X-Key rate=1r/m size=32k status=429" + (dryRun ? " dry-run" : "")),
        ])
        let sink = MemoryLogSink()
        let logger = Logger(label: "sidecar-test", level: .warning, handler: LogfmtHandler(sink: sink))
        let proxy = try await SidecarProxyServer.start(configuration: configuration, nodeID: "n1", writer: FixedWriter(.local), logger: logger)
        let client = HTTPClient()
        do {
            func send(key: String) async throws -> Int {
                try await client.send(HTTPClientRequest(url: proxy.url + "/z", headers: ["X-Key": key])).status
            }
            for index in 0..<Self.shortKeys {
                #expect(try await send(key: "k\(index)") == 200, "a new short key passes (evicting the least recently used)")
            }
            let long = String(repeating: "L", count: 60)
            #expect(try await send(key: long) == (dryRun ? 200 : 429), "no room for the long key's state")
            let counts = try await RateLimitZoneMetricTests.decisions(proxy)
            let full = dryRun ? "zone_full_dry_run" : "zone_full"
            #expect(counts["small"] == ["passed": Self.shortKeys, full: 1], "\(counts)")
            #expect(proxy.metrics.rateLimitDecisions(full) == 1)
            #expect(proxy.metrics.rateLimitDecisions(dryRun ? "rejected_dry_run" : "rejected") == 0)
            let warnings = sink.lines.filter { $0.contains("level=warning") && $0.contains("zone \\\"small\\\" is full") }
            #expect(warnings.count == 1, "\(sink.lines)")
        } catch {
            Issue.record(error)
        }
        await client.shutdown()
        await proxy.shutdown()
        await upstream.stop()
    }
}
