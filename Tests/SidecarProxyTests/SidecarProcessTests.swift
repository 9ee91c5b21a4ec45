import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Sidecar
import Testing

// MARK: - The disco-sidecar executable

/// Runs the built `disco-sidecar`: a node with the proxy, started as discod is.
func startSidecar(_ cluster: DiscodCluster, id: String, host: String = "127.0.0.1", ports: (http: UInt16, raft: UInt16),
                  flags: [String]) throws -> DiscodProcess {
    try DiscodProcess(nodeID: id, host: host, httpPort: ports.http, raftPort: ports.raft, dataDirectory: cluster.dataDirectory(for: id),
                      flags: flags, launcher: [try DiscodProcess.executable("disco-sidecar")])
}

/// Waits until the sidecar's proxy answers its own readiness endpoint.
func waitForProxy(host: String = "127.0.0.1", port: UInt16, process: DiscodProcess) async throws {
    try await waitUntil("the proxy on \(host):\(port) to answer", timeout: .seconds(60)) {
        if let status = process.process.exitStatus {
            throw SidecarExited(description: "disco-sidecar exited with \(status):\n\(process.process.output)")
        }
        return await LoopbackProbe.httpGet(host: host, port: port, path: "/.sidecar/readyz")?.status == 200
    }
}

struct SidecarExited: Error, CustomStringConvertible {
    let description: String
}

@Suite("disco-sidecar: the executable", .serialized)
struct SidecarProcessTests {
    @Test func validateChecksProxyFlagsAndBadOnesExit2NamingTheField() async throws {
        let sidecar = try DiscodProcess.executable("disco-sidecar")
        let good = try await ChildProcess.run(sidecar, ["-validate", "-node-id", "n1", "-proxy-addr", ":8080", "-upstream", "http://127.0.0.1:9984",
                                                        "-limit-req", "rate=10r/s burst=5 nodelay", "-limit-req", "key=app_id rate=1r/s",
                                                        "-tcp-proxy", ":27017=10.0.0.7:27017", "data"])
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("disco-sidecar: configuration is valid"))
        #expect(good.output.contains("proxy.route.writes=* / -> local of the writer"), "\(good.output)")
        #expect(good.output.contains("proxy.limit_req.0=zone=limit_req_1 key=addr rate=10r/s burst=5 nodelay status=503\n"), "\(good.output)")
        #expect(good.output.contains("proxy.limit_req.1=zone=limit_req_2 key=app_id rate=1r/s burst=0 status=503\n"), "\(good.output)")
        let dryRun = try await ChildProcess.run(sidecar, ["-validate", "-node-id", "n1", "-proxy-addr", ":8080", "-upstream", "http://127.0.0.1:9984",
                                                          "-limit-req", "rate=10r/s burst=5 dry-run", "data"])
        #expect(dryRun.output.contains("proxy.limit_req.0=zone=limit_req_1 key=addr rate=10r/s burst=5 status=503 dry-run\n"), "\(dryRun.output)")
        #expect(good.output.contains("proxy.tcp=:27017=10.0.0.7:27017 idle-timeout=10m0s"), "\(good.output)")
        #expect(good.output.contains("proxy.websocket_idle_timeout=1h0m0s"), "\(good.output)")
        let keyFile = NSTemporaryDirectory() + "disco-hop-key-\(UUID().uuidString.prefix(8))"
        try Data("0123456789abcdef0123456789abcdef\n".utf8).write(to: URL(fileURLWithPath: keyFile))
        defer { try? FileManager.default.removeItem(atPath: keyFile) }
        let shared = try await ChildProcess.run(sidecar, ["-validate", "-node-id", "n1", "-proxy-addr", ":8080", "-upstream", "http://127.0.0.1:9984",
                                                          "-limit-req", "zone=z rate=10r/s shared", "-proxy-hop-key", keyFile,
                                                          "-limit-req-share-interval", "250ms", "data"])
        #expect(shared.status == 0, "\(shared.output)")
        #expect(shared.output.contains("proxy.limit_req.0=zone=z key=addr rate=10r/s burst=0"), "\(shared.output)")
        #expect(shared.output.contains(" shared\n"), "\(shared.output)")
        #expect(shared.output.contains("proxy.limit_req_share_interval=250ms"), "\(shared.output)")
        #expect(shared.output.contains("proxy.hop_key=\(keyFile)"), "\(shared.output)")
        try Data("too short".utf8).write(to: URL(fileURLWithPath: keyFile))
        let short = try await ChildProcess.run(sidecar, ["-validate", "-node-id", "n1", "-proxy-hop-key", keyFile, "data"])
        #expect(short.status == 2 && short.output.contains("at least 32"), "\(short.output)")
        let cases: [([String], String)] = [
            (["-limit-req", "rate=10r/h"], "unit must be r/s or r/m"),
            (["-proxy-config", #"{"upstreams": {"s": "http://x:1"}, "rutes": []}"#], #"did you mean "routes"?"#),
            (["-proxy-addr", ":8080"], "-proxy-addr needs an upstream"),
            (["-tcp-proxy", "27017"], "LISTEN=UPSTREAM"),
            (["-proxy-cert", "/x.pem"], "-proxy-cert needs -proxy-key"),
            (["-limit-req", "rate=10r/s shared"], "needs -proxy-hop-key"),
            (["-limit-req", "rate=10r/s shard"], "did you mean shared?"),
            (["-limit-req", "rate=10r/s shared", "-proxy-hop-key", "/nonexistent/key"], "-proxy-hop-key \"/nonexistent/key\": no such file"),
            (["-limit-req-share-interval", "1ms"], "from 10ms to 10s"),
            (["-tcp-proxy-idle-timeout", "-1s"], "-tcp-proxy-idle-timeout must not be negative"),
            (["-proxy-websocket-idle-timeout", "-1m"], "-proxy-websocket-idle-timeout must not be negative"),
            (["-proxy-config", #"{"upstreams": {"s": "http://x:1"}, "routes": [{"name": "r", "upstream": "s"}, {"name": "r", "path": "/x", "upstream": "s"}]}"#],
             #"field "routes[1].name": route name "r" is also routes[0]'s"#),
            (["-proxy-config", #"{"upstreams": {"s": "http://x:1", "s": "http://x:2"}}"#], #"duplicate key "s""#),
            (["-tcp-proxy", ":27017=10.0.0.7:27017 max-conns=5 max-conns=50"], "max-conns= is given twice"),
        ]
        for (flags, message) in cases {
            let result = try await ChildProcess.run(sidecar, ["-validate", "-node-id", "n1"] + flags + ["data"])
            #expect(result.status == 2, "\(flags): \(result.output)")
            #expect(result.output.contains(message), "\(flags): \(result.output)")
        }
    }

    /// -validate opens the proxy's certificate, key and CA (its own or the API's they default to)
    /// and exits 2 naming the flag and the file that cannot be used.
    @Test func validateOpensTheProxyCertificateKeyAndCA() async throws {
        let certificates = try await CertificateFixture.make(name: "sidecar-validate")
        defer { certificates.remove() }
        let leaf = try await certificates.issue("sidecar")
        let other = try await certificates.issue("other")
        let sidecar = try DiscodProcess.executable("disco-sidecar")
        let base = ["-validate", "-node-id", "n1", "-proxy-addr", ":8443", "-upstream", "http://127.0.0.1:9000"]
        let good = try await ChildProcess.run(sidecar, base + ["-proxy-cert", leaf.certificate, "-proxy-key", leaf.key,
                                                               "-proxy-ca-cert", certificates.ca.certificate, "data"])
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("proxy.writer_ca=\(certificates.ca.certificate)"), "\(good.output)")
        let missing = certificates.directory + "/missing.pem"
        let cases: [([String], String)] = [
            (["-proxy-cert", missing, "-proxy-key", leaf.key], "-proxy-cert"),
            (["-proxy-cert", leaf.certificate, "-proxy-key", missing], "-proxy-key"),
            (["-proxy-cert", leaf.certificate, "-proxy-key", other.key], "-proxy-key"),
            (["-proxy-cert", leaf.certificate, "-proxy-key", leaf.key, "-proxy-ca-cert", missing], "-proxy-ca-cert"),
            (["-proxy-cert", leaf.certificate, "-proxy-key", leaf.key, "-proxy-ca-cert", leaf.key], "-proxy-ca-cert"),
            // Without its own, the proxy uses the API's: a bad -http-ca-cert is named as such.
            (["-http-cert", leaf.certificate, "-http-key", leaf.key, "-http-ca-cert", missing], "-http-ca-cert"),
        ]
        for (flags, flag) in cases {
            let result = try await ChildProcess.run(sidecar, base + flags + ["data"])
            #expect(result.status == 2, "\(flags): \(result.output)")
            let named = result.output.split(separator: "\n").first { $0.contains(flag) } ?? ""
            #expect(!named.isEmpty && (named.contains("missing.pem") || named.contains(leaf.key) || named.contains(other.key)),
                    "\(flags) must name \(flag) and the file: \(result.output)")
        }
    }

    /// Three sidecars, each in front of its own upstream, on 127.0.0.2–4 with the same proxy
    /// port (as pods of a StatefulSet): a write sent to any of them reaches the leader's
    /// upstream, reads stay local; after the leader is killed, writes follow the new leader.
    @Test func writesReachTheLeadersUpstreamAndFollowANewLeader() async throws {
        try await DiscodCluster.with("sidecar-writes") { cluster in
            let hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
            let proxyPort = try FreePort.loopback()
            let ports = try DiscodCluster.ports(count: 3)
            var upstreams: [RecordingUpstream] = []
            for index in 0..<3 { upstreams.append(try await RecordingUpstream.start(name: "up\(index + 1)")) }
            let join = zip(hosts, ports).map { "http://\($0):\($1.http)" }.joined(separator: ",")
            var nodes: [DiscodProcess] = []
            for index in 0..<3 {
                nodes.append(try startSidecar(cluster, id: "n\(index + 1)", host: hosts[index], ports: ports[index], flags: [
                    "-bootstrap-expect", "3", "-join", join, "-proxy-addr", "\(hosts[index]):\(proxyPort)",
                    "-upstream", "http://\(upstreams[index].address)",
                ]))
            }
            let leader = try await DiscodCluster.waitForLeader(nodes)
            for (index, node) in nodes.enumerated() { try await waitForProxy(host: hosts[index], port: proxyPort, process: node) }
            let client = HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(10)))
            func write(via index: Int, _ body: String) async throws -> HTTPClientResponse {
                try await client.send(HTTPClientRequest(method: "POST", url: "http://\(hosts[index]):\(proxyPort)/tx", body: Array(body.utf8)))
            }
            let leaderIndex = try #require(nodes.firstIndex { $0.nodeID == leader })
            var answered: [String] = []
            try await waitUntil("every sidecar to send writes to the leader's upstream", timeout: .seconds(30)) {
                answered = []
                for index in 0..<3 { answered.append((try? await write(via: index, "w\(index)"))?.bodyText ?? "no answer") }
                return answered.allSatisfy { $0.hasPrefix("up\(leaderIndex + 1) POST /tx") }
            }
            for index in 0..<3 {
                let read = try await client.send(HTTPClientRequest(url: "http://\(hosts[index]):\(proxyPort)/r"))
                #expect(read.bodyText == "up\(index + 1) GET /r 0", "reads stay with the local upstream")
            }
            // The leader dies: the survivors elect another and send writes to its upstream.
            nodes[leaderIndex].process.send(SIGKILL)
            let survivors = nodes.indices.filter { $0 != leaderIndex }
            try await DiscodCluster.waitUntil("a new leader", watching: survivors.map { nodes[$0] }) {
                let id = await nodes[survivors[0]].leaderID()
                return id != nil && id != leader
            }
            let newLeader = try await firstAnswer("GET /leader on a survivor") { await nodes[survivors[0]].leaderID() }
            let newIndex = try #require(nodes.firstIndex { $0.nodeID == newLeader })
            try await waitUntil("writes to follow the new leader", timeout: .seconds(30)) {
                var all = true
                // No answer (the connection cut while the survivors elect) is a miss to retry.
                for index in survivors where (try? await write(via: index, "after"))?.bodyText.hasPrefix("up\(newIndex + 1) POST /tx") != true {
                    all = false
                }
                return all
            }
            #expect(upstreams[newIndex].requests.contains { $0.method == "POST" })
            await client.shutdown()
            for upstream in upstreams { await upstream.stop() }
        }
    }

    /// SIGTERM while a request is held by the upstream: the proxy stops accepting, the request
    /// still completes, then the node leaves and the process exits 0.
    @Test func sigtermDrainsInFlightRequestsBeforeTheNodeLeaves() async throws {
        try await DiscodCluster.with("sidecar-drain") { cluster in
            let held = try await ScriptedTCPUpstream(script: Array("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n".utf8), later: Array("done".utf8))
            let proxyPort = try FreePort.loopback()
            let node = try startSidecar(cluster, id: "n1", ports: try DiscodCluster.ports(), flags: [
                "-proxy-addr", "127.0.0.1:\(proxyPort)", "-upstream", "http://\(held.address)", "-proxy-drain-timeout", "20s",
                "-upstream-health-interval", "0s",
            ])
            try await waitForProxy(port: proxyPort, process: node)
            let client = HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(30)))
            async let inFlight = client.send(HTTPClientRequest(url: "http://127.0.0.1:\(proxyPort)/slow"))
            try await waitUntil("the upstream to hold the request") { held.connections == 1 }
            node.process.send(SIGTERM)
            _ = try await node.process.waitForOutput(containing: "draining the proxy")
            try await waitUntil("the proxy to stop accepting") {
                await LoopbackProbe.httpGet(port: proxyPort, path: "/.sidecar/readyz") == nil
            }
            held.release()
            let answer = try await inFlight
            #expect(answer.status == 200)
            #expect(answer.bodyText == "done")
            #expect(try await node.process.waitForExit(timeout: .seconds(60)) == 0, "\(node.process.output)")
            #expect(node.process.output.contains("proxy drained; stopping the node"))
            await client.shutdown()
            await held.stop()
        }
    }
}

// MARK: - A stopping leader's drain

@Suite("disco-sidecar: a stopping Raft leader hands over before its proxy drains", .serialized)
struct SidecarLeaderDrainTests {
    /// SIGTERM of the Raft leader's sidecar while its upstream holds a request: leadership moves
    /// to another node before the proxy drains, so the cluster has a leader (and the other
    /// sidecars a writer) while the stopping one waits up to `-proxy-drain-timeout` for the
    /// request; then the request completes and the process exits 0. (The survivors' wait, 60 s,
    /// is shorter than the upstream's own hold, the proxy's read timeout and the drain timeout,
    /// so a leader that hands over only after the drain fails it.)
    @Test func leadershipMovesWhileTheStoppingLeaderDrains() async throws {
        try await DiscodCluster.with("sidecar-drain-leader") { cluster in
            let hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
            let proxyPort = try FreePort.loopback()
            let ports = try DiscodCluster.ports(count: 3)
            var upstreams: [ScriptedTCPUpstream] = []
            for _ in 0..<3 {
                upstreams.append(try await ScriptedTCPUpstream(script: Array("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n".utf8),
                                                               later: Array("done".utf8), hold: .seconds(600)))
            }
            let join = zip(hosts, ports).map { "http://\($0):\($1.http)" }.joined(separator: ",")
            var nodes: [DiscodProcess] = []
            for index in 0..<3 {
                nodes.append(try startSidecar(cluster, id: "n\(index + 1)", host: hosts[index], ports: ports[index], flags: [
                    "-bootstrap-expect", "3", "-join", join, "-proxy-addr", "\(hosts[index]):\(proxyPort)",
                    "-upstream", "http://\(upstreams[index].address)", "-proxy-drain-timeout", "300s", "-proxy-read-timeout", "600s",
                    "-upstream-health-interval", "0s",
                ]))
            }
            let leader = try await DiscodCluster.waitForLeader(nodes)
            for (index, node) in nodes.enumerated() { try await waitForProxy(host: hosts[index], port: proxyPort, process: node) }
            let leaderIndex = try #require(nodes.firstIndex { $0.nodeID == leader })
            let client = HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(400)))
            async let inFlight = client.send(HTTPClientRequest(url: "http://\(hosts[leaderIndex]):\(proxyPort)/slow"))
            try await waitUntil("the leader's upstream to hold the request") { upstreams[leaderIndex].connections == 1 }
            nodes[leaderIndex].process.send(SIGTERM)
            _ = try await nodes[leaderIndex].process.waitForOutput(containing: "draining the proxy")
            let survivors = nodes.indices.filter { $0 != leaderIndex }
            // Watching all three: the stopping leader must still be running (draining) meanwhile.
            try await DiscodCluster.waitUntil("the survivors to follow another leader while \(leader) drains",
                                              watching: nodes, timeout: .seconds(60)) {
                for index in survivors {
                    guard let id = await nodes[index].leaderID(), id != leader else { return false }
                }
                return true
            }
            upstreams[leaderIndex].release()
            let answer = try await inFlight
            #expect(answer.status == 200 && answer.bodyText == "done", "\(answer.status) \(answer.bodyText)")
            #expect(try await nodes[leaderIndex].process.waitForExit(timeout: .seconds(60)) == 0, "\(nodes[leaderIndex].process.output)")
            await client.shutdown()
            for upstream in upstreams { await upstream.stop() }
        }
    }
}

@Suite("disco-sidecar: a gigabyte through the proxy in bounded memory")
struct SidecarGigabyteTests {
    /// `VmRSS` or `VmHWM` (peak) of process `pid`, in bytes.
    static func memory(_ field: String, pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return digits.map { $0 * 1024 }
        }
        return nil
    }

    /// 1 GiB streamed up through the sidecar process (chunked, so nothing can be buffered whole)
    /// to an upstream that counts it: every byte arrives, and the sidecar's peak resident memory
    /// grows by less than 64 MiB.
    @Test func oneGiBUploadPassesWithBoundedRSS() async throws {
        try await DiscodCluster.with("sidecar-gigabyte") { cluster in
            let upstream = try await RecordingUpstream.start(name: "sink")
            let proxyPort = try FreePort.loopback()
            let node = try startSidecar(cluster, id: "n1", ports: try DiscodCluster.ports(), flags: [
                "-proxy-addr", "127.0.0.1:\(proxyPort)", "-upstream", "http://\(upstream.address)", "-proxy-read-timeout", "300s",
            ])
            try await waitForProxy(port: proxyPort, process: node)
            let pid = try #require(node.process.pid)
            let before = try #require(Self.memory("VmRSS", pid: pid))
            let size = 1 << 30
            let piece = [UInt8](repeating: 0x5A, count: 256 * 1024)
            let client = HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(300)))
            let response = try await client.send(HTTPClientRequest(method: "PUT", url: "http://127.0.0.1:\(proxyPort)/upload", bodyStream: .writer { writer in
                for _ in 0..<(size / piece.count) { try await writer.write(piece) }
            }), timeout: .seconds(300))
            #expect(response.status == 200)
            #expect(response.bodyText == "sink PUT /upload \(size)")
            let peak = try #require(Self.memory("VmHWM", pid: pid))
            #expect(peak - before < 64 * 1024 * 1024, "RSS peaked at \(peak >> 20) MiB from \(before >> 20) MiB")
            await client.shutdown()
            await upstream.stop()
        }
    }
}

@Suite("disco-sidecar: API keys from -api-key-file")
struct SidecarAPIKeyProcessTests {
    @Test func writesNeedAKeyFromTheFile() async throws {
        try await DiscodCluster.with("sidecar-keys") { cluster in
            let (node, proxyPort, upstream) = try await startFileKeyedSidecar(cluster)
            let client = HTTPClient()
            let url = "http://127.0.0.1:\(proxyPort)/tx"
            #expect(try await client.send(HTTPClientRequest(method: "POST", url: url, body: [1])).status == 401)
            #expect(try await client.send(HTTPClientRequest(method: "POST", url: url, headers: ["app_id": "app1", "app_key": "wrong"], body: [1])).status == 403)
            let good = try await client.send(HTTPClientRequest(method: "POST", url: url, headers: ["app_id": "app1", "app_key": "the-key"], body: [1]))
            #expect(good.status == 200, "\(good.bodyText)")
            #expect(upstream.requests.count == 1)
            await client.shutdown()
            await upstream.stop()
            withExtendedLifetime(node) {}  // the sidecar runs until here
            let missing = try await ChildProcess.run(try DiscodProcess.executable("disco-sidecar"),
                                                     ["-validate", "-node-id", "x", "-upstream", "http://a:1", "-api-keys", "-api-key-file", cluster.root + "/none.json", "d"])
            #expect(missing.status == 2)
            #expect(missing.output.contains("no such file"), "\(missing.output)")
        }
    }
}

@Suite("disco-sidecar: the proxy is the node's sidecar role")
struct SidecarRoleProcessTests {
    /// The node's own `/readyz` answers 503 naming the proxy's problem (a dead upstream) and 200
    /// once the upstream is up; `/metrics` carries the proxy's metrics; `/nodes` shows the role.
    @Test func theNodesReadinessMetricsAndMemberRecordIncludeTheProxy() async throws {
        try await DiscodCluster.with("sidecar-role") { cluster in
            let upstreamPort = try FreePort.loopback()
            let proxyPort = try FreePort.loopback()
            let node = try startSidecar(cluster, id: "n1", ports: try DiscodCluster.ports(), flags: [
                "-proxy-addr", "127.0.0.1:\(proxyPort)", "-upstream", "http://127.0.0.1:\(upstreamPort)",
                "-upstream-health", "/health", "-upstream-health-interval", "100ms",
            ])
            var readiness = ""
            try await waitUntil("the node's /readyz to name the proxy's dead upstream", timeout: .seconds(60)) {
                guard let answer = try? await node.request("GET", "/readyz", timeout: .seconds(2)) else { return false }
                readiness = answer.text
                return answer.status == 503 && answer.text.contains("upstream \\\"local\\\" is unhealthy")
            }
            #expect(readiness.contains("proxy"), "\(readiness)")
            let service = try await HTTPServer.start(configuration: HTTPServerConfiguration(port: upstreamPort)) { _ in .text("ok") }
            try await waitUntil("the node to be ready once the upstream answers", timeout: .seconds(60)) {
                (try? await node.request("GET", "/readyz", timeout: .seconds(2)))?.status == 200
            }
            let metrics = try await firstAnswer("GET /metrics on node \(node.nodeID)") { try await node.request("GET", "/metrics") }.text
            #expect(metrics.contains("disco_proxy_upstream_healthy{upstream=\"local\"} 1"), "\(metrics)")
            #expect(metrics.contains("disco_raft_term"))
            #expect(metrics.components(separatedBy: "# TYPE process_resident_memory_bytes").count == 2, "process metrics once")
            let nodes = try await firstAnswer("GET /nodes on node \(node.nodeID)") { try await node.request("GET", "/nodes") }.text
            #expect(nodes.contains("sidecar"), "\(nodes)")
            await service.shutdown(gracePeriod: .seconds(1))
        }
    }
}

@Suite("disco-sidecar: API keys in the cluster's replicated state")
struct SidecarReplicatedKeysProcessTests {
    @Test func keysAddedThroughTheNodeAPIAreCheckedByTheProxyAndRevocationHolds() async throws {
        try await DiscodCluster.with("sidecar-kv-keys") { cluster in
            let upstream = try await RecordingUpstream.start(name: "svc")
            let proxyPort = try FreePort.loopback()
            let node = try startSidecar(cluster, id: "n1", ports: try DiscodCluster.ports(), flags: [
                "-proxy-addr", "127.0.0.1:\(proxyPort)", "-upstream", "http://\(upstream.address)", "-api-keys",
            ])
            try await waitForProxy(port: proxyPort, process: node)
            let added = try await node.request("POST", "/keys", body: #"{"app_id":"app1"}"#)
            #expect(added.status == 201, "\(added.text)")
            let key = try #require(added.json?["app_key"]?.stringValue)
            #expect(try await node.request("POST", "/keys", body: #"{"app_id":"app1"}"#).status == 409)
            #expect(try await node.request("POST", "/keys", body: #"{"app_id":"a/b"}"#).status == 400)
            let listed = try await firstAnswer("GET /keys on node \(node.nodeID)") { try await node.request("GET", "/keys") }
            #expect(listed.text.contains(#"{"app_id":"app1","revoked":false}"#), "\(listed.text)")
            #expect(!listed.text.contains(key), "the key itself is never shown again")

            let client = HTTPClient()
            let url = "http://127.0.0.1:\(proxyPort)/tx"
            func write(_ appKey: String) async throws -> HTTPClientResponse {
                try await client.send(HTTPClientRequest(method: "POST", url: url, headers: ["app_id": "app1", "app_key": appKey], body: [1]))
            }
            #expect(try await write(key).status == 200)
            #expect(try await write(key + "x").status == 403)
            #expect(try await node.request("DELETE", "/keys/app1").status == 200)
            let revoked = try await write(key)
            #expect(revoked.status == 403)
            #expect(revoked.json?["reason"]?.stringValue == "revoked", "\(revoked.bodyText)")
            #expect(try await node.request("DELETE", "/keys/nobody").status == 404)
            // A revoked app_id may get a new key.
            let again = try await node.request("POST", "/keys", body: #"{"app_id":"app1","app_key":"a-new-key-of-enough-length"}"#)
            #expect(again.status == 201, "\(again.text)")
            #expect(try await write("a-new-key-of-enough-length").status == 200)
            #expect(upstream.requests.count == 2)
            // discoctl keys: the same through the command line.
            let discoctl = try DiscodProcess.executable("discoctl")
            let address = "127.0.0.1:\(node.httpPort)"
            let add = try await ChildProcess.run(discoctl, ["keys", "add", "app2", "-app-key", "another-long-enough-key", "-addr", address])
            #expect(add.status == 0, "\(add.output)")
            #expect(add.output.contains("app_id app2 app_key another-long-enough-key"), "\(add.output)")
            #expect(try await client.send(HTTPClientRequest(method: "POST", url: url, headers: ["app_id": "app2", "app_key": "another-long-enough-key"],
                                                            body: [1])).status == 200)
            let revoke = try await ChildProcess.run(discoctl, ["keys", "revoke", "app2", "-addr", address])
            #expect(revoke.status == 0, "\(revoke.output)")
            let list = try await ChildProcess.run(discoctl, ["keys", "list", "-json", "-addr", address])
            #expect(list.output.contains(#"{"app_id":"app2","revoked":true}"#), "\(list.output)")
            let twice = try await ChildProcess.run(discoctl, ["keys", "add", "app1", "-addr", address])
            #expect(twice.status == 1 && twice.output.contains("409"), "\(twice.output)")
            let bad = try await ChildProcess.run(discoctl, ["keys", "frobnicate", "-addr", address])
            #expect(bad.status == 2, "\(bad.output)")
            await client.shutdown()
            await upstream.stop()
        }
    }
}

extension HTTPClientResponse {
    fileprivate var json: JSONValue? { try? JSONValue.parse(body) }
}
