import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Sidecar
import SidecarProxy
import Synchronization
import Testing

// MARK: - A rate-limit zone shared by three sidecar processes

/// A metric's value from Prometheus text: the first sample whose line starts with `prefix`.
func metricValue(_ text: String, _ prefix: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
        return line.split(separator: " ").last.flatMap { Double($0) }
    }
    return nil
}

@Suite("disco-sidecar: a rate-limit zone shared through the cluster", .serialized)
struct SharedZoneProcessTests {
    static let rate = 10.0
    static let interval = 0.1
    /// The longest a count may take to arrive that the bound allows for (d): generous, for a
    /// loaded machine; on loopback it is a few milliseconds.
    static let delivery = 1.0

    /// The most three sidecars sharing the zone may admit in `window` seconds.
    static func bound(window: Double) -> Double {
        (1 + rate * window) + 2 * (1 + rate * (interval + delivery))
    }

    /// Three sidecars share `rate=10r/s burst=0 key=addr shared`; one client spreads requests
    /// over all three for a few seconds. The cluster's admissions stay within the documented
    /// bound `(1 + burst + rate·T) + (N − 1)(1 + burst + rate·(G + d))`, while the client sends so
    /// many that three independent zones would admit about three times `rate·T`, far above it.
    /// Writes then hop to the leader's sidecar, which counts each hop's proof as verified.
    @Test func threeSidecarsAdmitWithinTheSharedBound() async throws {
        try await DiscodCluster.with("sidecar-shared-zone") { cluster in
            let hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
            let proxyPort = try FreePort.loopback()
            let ports = try DiscodCluster.ports(count: 3)
            let keyFile = cluster.root + "/hop-key"
            try Array("0123456789abcdef0123456789abcdef-shared-zone-test".utf8).write(to: keyFile)
            var upstreams: [RecordingUpstream] = []
            for index in 0..<3 { upstreams.append(try await RecordingUpstream.start(name: "up\(index + 1)")) }
            let join = zip(hosts, ports).map { "http://\($0):\($1.http)" }.joined(separator: ",")
            var nodes: [DiscodProcess] = []
            for index in 0..<3 {
                nodes.append(try startSidecar(cluster, id: "n\(index + 1)", host: hosts[index], ports: ports[index], flags: [
                    "-bootstrap-expect", "3", "-join", join, "-proxy-addr", "\(hosts[index]):\(proxyPort)",
                    "-upstream", "http://\(upstreams[index].address)", "-upstream-health-interval", "0s",
                    "-limit-req", "zone=shared rate=10r/s key=addr shared", "-limit-req-share-interval", "100ms",
                    "-proxy-hop-key", keyFile,
                ]))
            }
            let leader = try await DiscodCluster.waitForLeader(nodes)
            let leaderIndex = try #require(nodes.firstIndex { $0.nodeID == leader })
            for (index, node) in nodes.enumerated() { try await waitForProxy(host: hosts[index], port: proxyPort, process: node) }
            let client = HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(10)))
            @Sendable func get(_ index: Int) async throws -> Int {
                try await client.send(HTTPClientRequest(url: "http://\(hosts[index]):\(proxyPort)/r")).status
            }
            func metrics(_ index: Int) async -> String {
                await LoopbackProbe.httpGet(host: hosts[index], port: proxyPort, path: "/.sidecar/metrics", timeout: .seconds(5))?.body ?? ""
            }
            // Every sidecar knows the two others (membership and announcements) and counts flow.
            try await waitUntil("every sidecar to exchange counts with the two others", timeout: .seconds(60)) {
                for index in 0..<3 { _ = try? await get(index) }
                for index in 0..<3 {
                    let text = await metrics(index)
                    guard metricValue(text, "disco_proxy_shared_peers") == 2,
                          (metricValue(text, "disco_proxy_shared_exchanges_total{direction=\"received\",result=\"ok\"}") ?? 0) >= 1 else { return false }
                }
                return true
            }

            // The measured window: 6 concurrent senders, round robin over the sidecars, for at
            // least 3 s and until they have sent three times the bound of the window so far (on a
            // loaded machine requests are slower, and the window grows until that holds; 60 s at most).
            let started = ContinuousClock.now
            let sentSoFar = SentCounter()
            @Sendable func windowIsLongEnough() -> Bool {
                let elapsed = ContinuousClock.now - started
                guard elapsed >= .seconds(3) else { return false }
                let (seconds, attoseconds) = elapsed.components
                let window = Double(seconds) + Double(attoseconds) / 1e18
                return Double(sentSoFar.count.load(ordering: .relaxed)) >= 3 * Self.bound(window: window) || elapsed >= .seconds(60)
            }
            let (requests, total) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                for sender in 0..<6 {
                    group.addTask {
                        var index = sender % 3
                        var (sent, admitted) = (0, 0)
                        while !windowIsLongEnough() {
                            let status = try await get(index)
                            sentSoFar.count.add(1, ordering: .relaxed)
                            sent += 1
                            if status == 200 { admitted += 1 }
                            #expect(status == 200 || status == 503, "status \(status)")
                            index = (index + 1) % 3
                        }
                        return (sent, admitted)
                    }
                }
                return try await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
            }
            let (seconds, attoseconds) = (ContinuousClock.now - started).components
            let window = Double(seconds) + Double(attoseconds) / 1e18
            let bound = Self.bound(window: window)
            let independent = 3 * (1 + Self.rate * window)
            let report = "\(total) of \(requests) admitted in \(window) s; shared bound \(bound), independent zones ≈ \(independent)"
            print("shared zone: \(report)")
            #expect(Double(total) <= bound, "\(report)")
            // With burst 0 a request is admitted only when one arrives after the bucket has drained,
            // so the zone admits about rate·T only while requests come far faster than the rate. A
            // test process starved on a loaded machine sends slowly and in bursts (the window then
            // grows): it then gives too few chances for a lower bound, and only admission is asked.
            // A peer's count charges a bucket when it arrives: on a starved machine counts arrive
            // late and each admission holds the others back for longer, so the zone admits less
            // (14 in 3 s in one CI run, 29 on a quiet machine), never more than the bound. The
            // floor is a quarter of rate·T: well above the next to nothing of a broken zone.
            if Double(requests) >= 10 * Self.rate * window {
                #expect(Double(total) >= Self.rate * window / 4, "the shared zone admits about rate·T, not next to nothing: \(report)")
            } else {
                #expect(total >= 1, "the shared zone admits: \(report)")
            }
            #expect(Double(requests) >= 3 * bound, "the client must send far more than the bound for the test to tell: \(report)")
            var received = 0.0
            for index in 0..<3 {
                let text = await metrics(index)
                received += metricValue(text, "disco_proxy_shared_exchanges_total{direction=\"received\",result=\"ok\"}") ?? 0
                #expect(metricValue(text, "disco_proxy_shared_dropped_requests") == 0)
            }
            #expect(received >= 3, "counts were exchanged: \(received)")
            // Writes hop to the leader's sidecar with a proof it accepts (retried past the limit).
            for index in 0..<3 where index != leaderIndex {
                try await waitUntil("a write via sidecar \(index + 1) to reach the leader's upstream", timeout: .seconds(30)) {
                    guard let write = try? await client.send(HTTPClientRequest(method: "POST", url: "http://\(hosts[index]):\(proxyPort)/tx",
                                                                               body: [1])) else { return false }
                    return write.status == 200 && write.bodyText.hasPrefix("up\(leaderIndex + 1) POST /tx")
                }
            }
            let leaderMetrics = await metrics(leaderIndex)
            #expect((metricValue(leaderMetrics, "disco_proxy_hops_total{result=\"proven\"}") ?? 0) >= 2, "\(leaderMetrics)")
            #expect(!leaderMetrics.contains("disco_proxy_hops_total{result=\"bad_mac\"}"))
            for upstream in upstreams {
                #expect(upstream.requests.allSatisfy { $0.headers[HopProof.header] == nil }, "no proof reaches an upstream")
            }
            await client.shutdown()
            for upstream in upstreams { await upstream.stop() }
        }
    }

    /// A post of counts without a valid proof, or from a node that is not a member, is refused
    /// and charges nothing.
    @Test func countsWithoutAProofOrFromANonMemberAreRefused() async throws {
        try await DiscodCluster.with("sidecar-shared-refused") { cluster in
            let upstream = try await RecordingUpstream.start(name: "up")
            let proxyPort = try FreePort.loopback()
            let keyFile = cluster.root + "/hop-key"
            let key = Array("0123456789abcdef0123456789abcdef-refused".utf8)
            try key.write(to: keyFile)
            let node = try startSidecar(cluster, id: "n1", ports: try DiscodCluster.ports(), flags: [
                "-proxy-addr", "127.0.0.1:\(proxyPort)", "-upstream", "http://\(upstream.address)", "-upstream-health-interval", "0s",
                "-limit-req", "zone=shared rate=1r/m key=addr shared", "-proxy-hop-key", keyFile,
            ])
            try await waitForProxy(port: proxyPort, process: node)
            let client = HTTPClient()
            let url = "http://127.0.0.1:\(proxyPort)/.sidecar/ratelimit/counts"
            // Counts that would use up 127.0.0.1's allowance if they were charged.
            let body = Array(#"{"counts":[{"zone":"shared","key":"7f000001","requests":100}]}"#.utf8)
            let outsider = HopAuthenticator(key: try HopKey(bytes: key), nodeID: "n9")
            let attempts: [(HTTPHeaders, String)] = [
                (HTTPHeaders(), "no proof"),
                ([HopProof.header: outsider.proof(method: "POST", target: "/.sidecar/ratelimit/counts", receiver: "n1", body: Array("other".utf8))], "a proof of another body"),
                ([HopProof.header: outsider.proof(method: "POST", target: "/.sidecar/ratelimit/counts", receiver: "n1", body: body)], "a non-member's proof"),
            ]
            for (headers, what) in attempts {
                let answer = try await client.send(HTTPClientRequest(method: "POST", url: url, headers: headers, body: body))
                #expect(answer.status == 403, "\(what): \(answer.status) \(answer.bodyText)")
            }
            let read = try await client.send(HTTPClientRequest(url: "http://127.0.0.1:\(proxyPort)/r"))
            #expect(read.status == 200, "refused counts were charged: \(read.status)")
            await client.shutdown()
            await upstream.stop()
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func write(to path: String) throws {
        try Data(self).write(to: URL(fileURLWithPath: path))
    }
}

/// Requests sent by all senders so far.
private final class SentCounter: Sendable {
    let count = Atomic<Int>(0)
}
