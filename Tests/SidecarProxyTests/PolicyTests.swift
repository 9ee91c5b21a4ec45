import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Testing

@Suite("Sidecar proxy: rate limits, API keys, health and metrics")
struct PolicyTests {
    func configuration(_ upstream: RecordingUpstream, limits: [String] = [], keys: Bool = false) throws -> ProxyConfiguration {
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: limits.map { try LimitReqSpec.parse($0) })
        configuration.apiKeys = APIKeySettings(enabled: keys)
        return configuration
    }

    @Test func beyondTheBurstRequestsAreRejectedWithTheConfiguredStatus() async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        try await withProxy(try configuration(upstream, limits: ["rate=1r/m burst=2 nodelay status=429 zone=per_client"])) { proxy in
            let client = HTTPClient()
            var statuses: [Int] = []
            for _ in 0..<4 { statuses.append(try await client.send(HTTPClientRequest(url: proxy.url + "/")).status) }
            #expect(statuses == [200, 200, 200, 429])
            let refused = try await client.send(HTTPClientRequest(url: proxy.url + "/"))
            #expect(try json(refused)["zone"]?.stringValue == "per_client")
            #expect(upstream.requests.count == 3, "rejected requests never reach the upstream")
            #expect(proxy.metrics.rateLimitDecisions("rejected") == 2)
            await client.shutdown()
        }
        await upstream.stop()
    }

    @Test func requestsWithinTheBurstAreHeldAndThenForwarded() async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        try await withProxy(try configuration(upstream, limits: ["rate=30r/m burst=3"])) { proxy in
            let client = HTTPClient()
            // Three at once: the first passes, the others wait their turn at one per 2 s (nginx's
            // paced burst) and are then forwarded. A request is held only when it arrives within
            // 2 s of the one before: at 2 per second a starved machine that handled the three
            // half a second apart found nothing to hold.
            async let a = client.send(HTTPClientRequest(url: proxy.url + "/a"))
            async let b = client.send(HTTPClientRequest(url: proxy.url + "/b"))
            async let c = client.send(HTTPClientRequest(url: proxy.url + "/c"))
            let statuses = try await [a.status, b.status, c.status]
            #expect(statuses == [200, 200, 200])
            #expect(proxy.metrics.rateLimitDecisions("delayed") >= 1)
            #expect(proxy.metrics.rateLimitDecisions("rejected") == 0)
            #expect(upstream.requests.count == 3)
            await client.shutdown()
        }
        await upstream.stop()
    }

    @Test func dryRunForwardsEverythingAndCountsWhatItWouldHaveDone() async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        try await withProxy(try configuration(upstream, limits: ["rate=1r/m dry-run"])) { proxy in
            let client = HTTPClient()
            for _ in 0..<3 {
                let status = try await client.send(HTTPClientRequest(url: proxy.url + "/")).status
                #expect(status == 200)
            }
            #expect(proxy.metrics.rateLimitDecisions("rejected_dry_run") == 2)
            #expect(upstream.requests.count == 3)
            await client.shutdown()
        }
        await upstream.stop()
    }

    @Test func writesNeedAValidKeyAndCredentialsNeverReachTheUpstream() async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        let store = InMemoryAPIKeyStore()
        let key = try APIKey.generate()
        store.put(try APIKeyRecord.hashing(appID: "app1", key: key))
        store.put(try APIKeyRecord.hashing(appID: "gone", key: "old-key"))
        store.revoke(appID: "gone")
        #expect(key.count == 43)
        try await withProxy(try configuration(upstream, limits: ["key=app_id rate=1r/m burst=5 nodelay status=429"], keys: true), keys: store) { proxy in
            let client = HTTPClient()
            func post(_ headers: HTTPHeaders) async throws -> HTTPClientResponse {
                try await client.send(HTTPClientRequest(method: "POST", url: proxy.url + "/tx", headers: headers, body: Array("{}".utf8)))
            }
            let missing = try await post([:])
            #expect(missing.status == 401)
            #expect(try json(missing)["reason"]?.stringValue == "missing")
            // RFC 9110 §15.5.2: a 401 carries a challenge; this one names the headers to send.
            #expect(missing.headers["WWW-Authenticate"] == #"AppKey realm="disco-sidecar", app_id_header="app_id", app_key_header="app_key""#)
            #expect(try await post(["app_id": "app1"]).status == 401)
            let wrong = try await post(["app_id": "app1", "app_key": key + "x"])
            #expect(wrong.status == 403)
            #expect(try json(wrong)["reason"]?.stringValue == "wrong")
            #expect(try json(try await post(["app_id": "nobody", "app_key": key]))["reason"]?.stringValue == "unknown")
            #expect(try json(try await post(["app_id": "gone", "app_key": "old-key"]))["reason"]?.stringValue == "revoked")
            #expect(upstream.requests.isEmpty, "a refused write reached the upstream")
            let good = try await post(["app_id": "app1", "app_key": key])
            #expect(good.status == 200)
            let seen = try #require(upstream.requests.first)
            #expect(seen.headers["app_id"] == nil && seen.headers["app_key"] == nil, "credentials reached the upstream: \(seen.headers)")
            // Reads need no key; the per-key zone counts app1's requests as app1's (1 + burst 5)
            // and the refused ones as this client's (1 + burst 5 too: a seventh is over).
            #expect(try await client.send(HTTPClientRequest(url: proxy.url + "/")).status == 200)
            for _ in 0..<5 { #expect(try await post(["app_id": "app1", "app_key": key]).status == 200) }
            #expect(try await post(["app_id": "app1", "app_key": key]).status == 429)
            #expect(try await post(["app_id": "app1", "app_key": key + "x"]).status == 403)
            #expect(try await post(["app_id": "app1", "app_key": key + "x"]).status == 429)
            #expect(proxy.metrics.authFailures == 6)
            await client.shutdown()
        }
        await upstream.stop()
    }

    /// A native sidecar outlives its pod's service: on a graceful delete the service stops first,
    /// and until the next check (an interval away) writes went to it and failed. A failed
    /// exchange now asks for a check at once.
    @Test func aFailedExchangeChecksItsUpstreamAtOnce() async throws {
        let port = try FreePort.loopback()
        let service = try await HTTPServer.start(configuration: HTTPServerConfiguration(port: port)) { _ in .text("ok") }
        // Checks an hour apart: only the first runs within the test, unless a failure asks for one.
        let configuration = proxyConfiguration([("svc", SocketAddress(numericHost: "127.0.0.1", port: port)!)], healthInterval: .seconds(3600))
        try await withProxy(configuration) { proxy in
            let client = HTTPClient()
            try await waitUntil("the first check", timeout: .seconds(60)) { proxy.health.all.first?.status.checks == 1 }
            #expect(try await client.send(HTTPClientRequest(url: proxy.url + "/x")).status == 200)
            // A long grace: the shutdown returns once its listener is closed unless the listener's
            // loop stays busy for the whole grace (it has no request in flight, so it does not wait
            // on one). With a second's grace a starved machine could leave the listener open, the
            // check out of turn then connected into its backlog, and the stopped service passed.
            await service.shutdown(gracePeriod: .seconds(60))
            #expect(try await client.send(HTTPClientRequest(url: proxy.url + "/x")).status == 502)
            try await waitUntil("the failure to mark the upstream unhealthy", timeout: .seconds(60)) { !proxy.health.isHealthy("svc") }
            let readiness = try await client.send(HTTPClientRequest(url: proxy.url + "/.sidecar/readyz"))
            #expect(readiness.status == 503, "\(readiness.bodyText)")
            #expect(try await client.send(HTTPClientRequest(url: proxy.url + "/x")).status == 503, "not routed to any more")
            await client.shutdown()
        }
    }

    @Test func anUnhealthyUpstreamIsNotRoutedToAndReadinessSaysWhy() async throws {
        let port = try FreePort.loopback()
        var configuration = proxyConfiguration([("svc", SocketAddress(numericHost: "127.0.0.1", port: port)!)], healthInterval: .milliseconds(50))
        configuration.upstreams[0].healthPath = "/health"
        try await withProxy(configuration) { proxy in
            let client = HTTPClient()
            var readiness: HTTPClientResponse?
            try await waitUntil("readiness to report the dead upstream") {
                readiness = try await client.send(HTTPClientRequest(url: proxy.url + "/.sidecar/readyz"))
                return readiness?.status == 503
            }
            #expect(readiness?.bodyText.contains("upstream \\\"svc\\\" is unhealthy") == true, "\(readiness?.bodyText ?? "")")
            let refused = try await client.send(HTTPClientRequest(url: proxy.url + "/x"))
            #expect(refused.status == 503)
            #expect(try json(refused)["error"]?.stringValue == "upstream \"svc\" is unhealthy")
            // The service comes up: checks pass and requests flow again.
            let service = try await HTTPServer.start(configuration: HTTPServerConfiguration(port: port)) { request in
                .text(request.path == "/health" ? "ok" : "served \(request.path)")
            }
            try await waitUntil("readiness to recover") {
                try await client.send(HTTPClientRequest(url: proxy.url + "/.sidecar/readyz")).status == 200
            }
            #expect(try await client.send(HTTPClientRequest(url: proxy.url + "/x")).bodyText == "served /x")
            let metrics = try await client.send(HTTPClientRequest(url: proxy.url + "/.sidecar/metrics")).bodyText
            #expect(metrics.contains("disco_proxy_requests_total{route=\"reads\",method=\"GET\",code=\"503\"} 1"), "\(metrics)")
            #expect(metrics.contains("disco_proxy_requests_total{route=\"reads\",method=\"GET\",code=\"200\"} 1"))
            #expect(metrics.contains("disco_proxy_upstream_latency_seconds_count{upstream=\"svc\"} 1"))
            #expect(metrics.contains("disco_proxy_upstream_healthy{upstream=\"svc\"} 1"))
            #expect(metrics.contains("process_resident_memory_bytes ") && metrics.contains("process_open_fds "))
            await service.shutdown(gracePeriod: .seconds(1))
            await client.shutdown()
        }
    }
}
