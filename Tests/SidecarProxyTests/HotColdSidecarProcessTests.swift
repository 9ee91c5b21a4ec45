import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - disco-sidecar -hot-cold, as real processes

/// Three `disco-sidecar -hot-cold` processes on 127.0.0.2–4 (one proxy port, as the pods of a
/// StatefulSet), each in front of its own service; the services write into one
/// ``FencedHTTPStore`` that refuses a token lower than the highest it has seen.
@Suite("disco-sidecar -hot-cold: fenced fail-over between real processes", .serialized)
struct HotColdSidecarProcessTests {
    static let hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    /// Longer than the defaults, so a busy test machine does not make the hot miss its deadline.
    static let leaseFlags = ["-hot-cold", "-hot-cold-group", "orders", "-lease-ttl", "2s", "-lease-renew-deadline", "1500ms",
                             "-lease-renew", "300ms", "-upstream-health-interval", "500ms"]

    /// The running group: sidecars, the store behind them, a client.
    struct Group {
        let nodes: [DiscodProcess]
        /// Each replica's service, in node order.
        let services: [HTTPServer]
        let store: FencedHTTPStore
        /// Each replica's host, in node order (its proxy listens on `proxyPort` there).
        let hosts: [String]
        let proxyPort: UInt16
        let client: HTTPClient

        func proxy(_ index: Int) -> String { "http://\(hosts[index]):\(proxyPort)" }

        /// A write through sidecar `index`.
        func write(via index: Int, _ body: String, headers: HTTPHeaders = HTTPHeaders(),
                   timeout: Duration = .seconds(10)) async -> HTTPClientResponse? {
            try? await client.send(HTTPClientRequest(method: "POST", url: proxy(index) + "/orders", headers: headers, body: Array(body.utf8)),
                                   timeout: timeout)
        }

        /// `GET /hot` of node `index`: the hot replica's ID (nil: none) and the group's token.
        func hot(_ index: Int) async -> (id: String?, token: UInt64)? {
            guard let answer = try? await nodes[index].request("GET", "/hot", timeout: .seconds(2)), answer.status == 200,
                  let json = answer.json, let token = json["token"]?.numberValue?.uint64Value else { return nil }
            return (json["hot"]?.stringValue, token)
        }

        /// Waits until every node in `indices` names the same hot replica with a token above
        /// `token`; returns its index and token.
        func waitForHot(among indices: [Int], above token: UInt64) async throws -> (index: Int, token: UInt64) {
            var found: (Int, UInt64)?
            try await DiscodCluster.waitUntil("one hot replica with a token above \(token), agreed by \(indices.map { nodes[$0].nodeID })",
                                              watching: indices.map { nodes[$0] }) {
                var seen: [(String?, UInt64)] = []
                for index in indices { if let hot = await hot(index) { seen.append(hot) } }
                guard seen.count == indices.count, let first = seen.first, let id = first.0, first.1 > token,
                      seen.allSatisfy({ $0.0 == id && $0.1 == first.1 }), let hotIndex = nodes.firstIndex(where: { $0.nodeID == id }) else { return false }
                found = (hotIndex, first.1)
                return true
            }
            return try #require(found)
        }

        /// Waits until a write through every sidecar in `indices` is accepted by the service of
        /// replica `hot` with `token`.
        func waitForWritesAccepted(through indices: [Int], by hot: Int, token: UInt64, label: String) async throws {
            try await DiscodCluster.waitUntil("writes through \(indices) accepted by r\(hot + 1) with token \(token)",
                                              watching: indices.map { nodes[$0] }) {
                for index in indices {
                    guard let answer = await write(via: index, "\(label)-via-\(index)"), answer.status == 200,
                          answer.bodyText == "r\(hot + 1) accepted token=\(token)" else { return false }
                }
                return true
            }
        }
    }

    /// Starts the three sidecars (with `extraFlags`, and `nodeFlags(index)` for each) and runs `body`
    /// (a write whose body starts with `slow` is decided by the store `slowWriteDelay` after it arrived).
    static func withGroup(_ name: String, leaseFlags: [String] = Self.leaseFlags, extraFlags: [String] = [],
                          slowWriteDelay: Duration = .seconds(2),
                          nodeFlags: (Int) -> [String] = { _ in [] }, _ body: (Group) async throws -> Void) async throws {
        try await DiscodCluster.with(name) { cluster in
            let store = FencedHTTPStore(slowWriteDelay: slowWriteDelay)
            let proxyPort = try FreePort.loopback()
            let ports = try DiscodCluster.ports(count: 3)
            let join = zip(hosts, ports).map { "http://\($0):\($1.http)" }.joined(separator: ",")
            var nodes: [DiscodProcess] = []
            var services: [HTTPServer] = []
            for index in 0..<3 {
                let service = try await store.startService(replica: "r\(index + 1)")
                services.append(service)
                nodes.append(try startSidecar(cluster, id: "n\(index + 1)", host: hosts[index], ports: ports[index], flags: [
                    "-bootstrap-expect", "3", "-join", join, "-proxy-addr", "\(hosts[index]):\(proxyPort)",
                    "-upstream", "http://\(service.localAddress)",
                ] + leaseFlags + extraFlags + nodeFlags(index)))
            }
            let client = HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(10)))
            do {
                try await body(Group(nodes: nodes, services: services, store: store, hosts: hosts, proxyPort: proxyPort, client: client))
            } catch {
                await client.shutdown()
                await store.stop()
                throw error
            }
            await client.shutdown()
            await store.stop()
        }
    }

    /// Writes through any sidecar reach the hot's service with its token; a client's token header
    /// never passes; `kill -9` of the hot's sidecar makes another replica hot with a higher token
    /// and writes through the survivors resume there; `discoctl hot move` switches over again. The
    /// store never sees a tokenless write, a token used by two replicas, or a lower token accepted.
    @Test func killOfTheHotSidecarHandsWritesToASuccessorWithAHigherToken() async throws {
        try await Self.withGroup("sidecar-hot-kill") { group in
            let nodes = group.nodes
            let first = try await group.waitForHot(among: [0, 1, 2], above: 0)
            try await group.waitForWritesAccepted(through: [0, 1, 2], by: first.index, token: first.token, label: "first")

            // A client's own token and state headers never reach the store; a forged hop header
            // (from a client's address, not a member's) is not taken as a hop: the cold replica
            // routes the write to the hot as any client's, never to its own upstream.
            let cold = try #require([0, 1, 2].first { $0 != first.index })
            let forged = await group.write(via: cold, "forged", headers: ["Disco-Fencing-Token": "999999", "Disco-Hot-Cold-State": "hot"])
            #expect(forged?.status == 200 && forged?.bodyText == "r\(first.index + 1) accepted token=\(first.token)", "\(forged?.bodyText ?? "no answer")")
            let hopped = await group.write(via: cold, "hopped", headers: ["Disco-Sidecar-Hop": "n9", "Disco-Fencing-Token": "999999"])
            #expect(hopped?.status == 200 && hopped?.bodyText == "r\(first.index + 1) accepted token=\(first.token)",
                    "\(hopped?.bodyText ?? "no answer")")
            let read = try await group.client.send(HTTPClientRequest(url: group.proxy(cold) + "/orders", headers: ["Disco-Hot-Cold-State": "hot"]))
            #expect(read.bodyText == "r\(cold + 1) read state=cold", "reads stay local on a cold replica (-hot-cold-reads local)")
            let hotRead = try await group.client.send(HTTPClientRequest(url: group.proxy(first.index) + "/orders"))
            #expect(hotRead.bodyText == "r\(first.index + 1) read state=hot")
            #expect(group.store.highestToken == first.token)
            // A client that lists the token's and the state's names in Connection (hop-by-hop
            // fields a proxy drops) does not get its write to the hot's service without them.
            let hotAddress = try #require(SocketAddress(numericHost: Self.hosts[first.index], port: group.proxyPort))
            let listing = try RawSocketClient(connectTo: hotAddress, timeoutSeconds: 30)
            try listing.send("POST /orders HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Disco-Fencing-Token, disco-hot-cold-state\r\n"
                + "Content-Length: 8\r\n\r\nlisting-")
            let listed = try await listing.readResponse()
            #expect(listed.status == 200 && listed.bodyText == "r\(first.index + 1) accepted token=\(first.token)", "\(listed)")

            // kill -9 of the hot's sidecar: a survivor becomes hot with a higher token.
            nodes[first.index].process.send(SIGKILL)
            let survivors = [0, 1, 2].filter { $0 != first.index }
            let second = try await group.waitForHot(among: survivors, above: first.token)
            #expect(second.index != first.index)
            try await group.waitForWritesAccepted(through: survivors, by: second.index, token: second.token, label: "after-kill")

            // discoctl hot status and move, against a survivor.
            let discoctl = try DiscodProcess.executable("discoctl")
            let address = "\(Self.hosts[survivors[0]]):\(nodes[survivors[0]].httpPort)"
            let status = try await ChildProcess.run(discoctl, ["-addr", address, "hot", "status"])
            #expect(status.status == 0, "\(status.output)")
            #expect(status.output.hasPrefix("group orders: \(nodes[second.index].nodeID) is hot (token \(second.token))\n"), "\(status.output)")
            #expect(status.output.hasSuffix("\n"))
            let json = try await ChildProcess.run(discoctl, ["-addr", address, "hot", "status", "-json"])
            #expect(json.status == 0)
            let parsed = try JSONValue.parse(Array(json.output.utf8))
            #expect(parsed["hot"]?.stringValue == nodes[second.index].nodeID)
            #expect(parsed["token"]?.numberValue?.uint64Value == second.token)
            let target = try #require(survivors.first { $0 != second.index })
            let move = try await ChildProcess.run(discoctl, ["-addr", address, "hot", "move", "-to", nodes[target].nodeID])
            #expect(move.status == 0, "\(move.output)")
            #expect(move.output == "moving hot/cold group orders to \(nodes[target].nodeID); 'discoctl hot status' shows when it is hot\n")
            let third = try await group.waitForHot(among: survivors, above: second.token)
            #expect(third.index == target)
            try await group.waitForWritesAccepted(through: survivors, by: target, token: third.token, label: "after-move")

            // What the store saw: one writer per token, tokens only up, never a write without one.
            #expect(group.store.violations.isEmpty, "\(group.store.violations)")
            let writers = Dictionary(grouping: group.store.accepted, by: { $0.token ?? 0 }).mapValues { Set($0.map(\.replica)) }
            #expect(writers[first.token] == ["r\(first.index + 1)"])
            #expect(writers[second.token] == ["r\(second.index + 1)"])
            #expect(writers[third.token] == ["r\(target + 1)"])
            #expect(group.store.accepted.allSatisfy { !$0.body.contains("forged") || $0.token == first.token })
        }
    }

    /// `SIGSTOP` of the hot's sidecar for longer than the ttl: another replica becomes hot. A
    /// write sent to the stopped sidecar meanwhile is handled after `SIGCONT`: it is refused or
    /// passed to the new hot, never written with the old token after the new one.
    @Test func aPausedHotIsFencedWhenItWakes() async throws {
        try await Self.withGroup("sidecar-hot-pause") { group in
            let nodes = group.nodes
            let first = try await group.waitForHot(among: [0, 1, 2], above: 0)
            try await group.waitForWritesAccepted(through: [0, 1, 2], by: first.index, token: first.token, label: "first")
            let paused = first.index
            nodes[paused].process.send(SIGSTOP)
            let survivors = [0, 1, 2].filter { $0 != paused }
            let second = try await group.waitForHot(among: survivors, above: first.token)
            try await group.waitForWritesAccepted(through: survivors, by: second.index, token: second.token, label: "while-paused")
            // A write waits in the stopped process's listen queue (the kernel accepts the
            // connection and buffers the bytes); the sidecar handles it after SIGCONT.
            let address = try #require(SocketAddress(numericHost: Self.hosts[paused], port: group.proxyPort))
            let late = try RawSocketClient(connectTo: address, timeoutSeconds: 60)
            try late.send("POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nDisco-Fencing-Token: \(first.token)\r\n\r\nlate")
            nodes[paused].process.send(SIGCONT)
            let answer = try await late.readResponse()
            #expect(answer.status == 503
                    || (answer.status == 200 && answer.bodyText == "r\(second.index + 1) accepted token=\(second.token)"), "\(answer)")
            #expect(!group.store.accepted.contains { $0.body == "late" && $0.token == first.token }, "the woken replica wrote with its old token")
            // It rejoins cold, and writes through it go to the new hot.
            try await group.waitForWritesAccepted(through: [paused], by: second.index, token: second.token, label: "after-wake")
            #expect(group.store.violations.isEmpty, "\(group.store.violations)")
            let writers = Dictionary(grouping: group.store.accepted, by: { $0.token ?? 0 }).mapValues { Set($0.map(\.replica)) }
            #expect(writers[first.token] == ["r\(first.index + 1)"])
            #expect(writers[second.token] == ["r\(second.index + 1)"])
        }
    }

    /// The hot's service stops answering: its sidecar's health checks make it step down and
    /// release, another replica becomes hot with a higher token, and writes through every
    /// sidecar (the sick one's too) are accepted there.
    @Test func anUnhealthyUpstreamMakesTheHotStepDown() async throws {
        try await Self.withGroup("sidecar-hot-sick") { group in
            let first = try await group.waitForHot(among: [0, 1, 2], above: 0)
            try await group.waitForWritesAccepted(through: [0, 1, 2], by: first.index, token: first.token, label: "first")
            await group.services[first.index].shutdown(gracePeriod: .zero)
            let second = try await group.waitForHot(among: [0, 1, 2], above: first.token)
            #expect(second.index != first.index)
            try await group.waitForWritesAccepted(through: [0, 1, 2], by: second.index, token: second.token, label: "after-sick")
            let answer = try await firstAnswer("GET /hot on the first hot") { try await group.nodes[first.index].request("GET", "/hot") }
            #expect(answer.json?["healthy"]?.boolValue == false, "\(answer.text)")
            #expect(answer.json?["state"]?.stringValue == "cold", "\(answer.text)")
            #expect(group.store.violations.isEmpty, "\(group.store.violations)")
        }
    }

    /// `-hot-cold-reads hot`: a cold replica forwards reads to the hot, whose service sees them
    /// as the hot's (with its state header); the hot serves its own.
    @Test func coldReadsGoToTheHotWithHotColdReadsHot() async throws {
        try await Self.withGroup("sidecar-hot-reads", extraFlags: ["-hot-cold-reads", "hot"]) { group in
            let hot = try await group.waitForHot(among: [0, 1, 2], above: 0)
            try await group.waitForWritesAccepted(through: [0, 1, 2], by: hot.index, token: hot.token, label: "first")
            for index in 0..<3 {
                let read = try await group.client.send(HTTPClientRequest(url: group.proxy(index) + "/orders"))
                #expect(read.bodyText == "r\(hot.index + 1) read state=hot", "read via \(index): \(read.bodyText)")
            }
        }
    }
}

// MARK: - Flags

@Suite("disco-sidecar -hot-cold: flags")
struct HotColdSidecarFlagTests {
    @Test func validatePrintsTheSettingsAndBadOnesExit2NamingTheFlag() async throws {
        let sidecar = try DiscodProcess.executable("disco-sidecar")
        let base = ["-validate", "-node-id", "n1", "-proxy-addr", ":8080", "-upstream", "http://127.0.0.1:9984"]
        let good = try await ChildProcess.run(sidecar, base + ["-hot-cold", "-hot-cold-group", "orders", "-hot-priority", "5",
                                                               "-hot-cold-reads", "hot", "-lease-ttl", "2s", "-lease-renew-deadline", "1500ms", "data"])
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("hot_cold.group=orders"), "\(good.output)")
        #expect(good.output.contains("hot_cold.priority=5"), "\(good.output)")
        #expect(good.output.contains("hot_cold.lease=ttl=2s renew_deadline=1.5s"), "\(good.output)")
        #expect(good.output.contains("proxy.route.reads=GET,HEAD,OPTIONS / -> local of the writer"), "-hot-cold-reads hot: \(good.output)")
        let off = try await ChildProcess.run(sidecar, base + ["data"])
        #expect(off.output.contains("hot_cold=off"), "\(off.output)")
        #expect(off.output.contains("proxy.route.reads=GET,HEAD,OPTIONS / -> local\n"), "\(off.output)")
        let cases: [([String], String)] = [
            (["-hot-cold-group", "orders"], "-hot-cold-group needs -hot-cold"),
            (["-hot-cold", "-hot-cold-reads", "maybe"], #""maybe" is not one of local, hot"#),
            (["-hot-cold", "-lease-ttl", "400ms"], "-lease-renew-deadline"),
            (["-hot-cold", "-hot-priority", "9999999"], "-hot-priority"),
            (["-hot-cold", "-no-hot", "-on-hot", "/bin/true"], "-on-hot"),
            (["-hot-cold", "-hot-cold-group", "a b"], "-hot-cold-group"),
        ]
        for (flags, message) in cases {
            let result = try await ChildProcess.run(sidecar, base + flags + ["data"])
            #expect(result.status == 2, "\(flags): \(result.output)")
            #expect(result.output.contains(message), "\(flags): \(result.output)")
        }
        let noProxy = try await ChildProcess.run(sidecar, ["-validate", "-node-id", "n1", "-hot-cold", "data"])
        #expect(noProxy.status == 2, "\(noProxy.output)")
        #expect(noProxy.output.contains("-hot-cold routes HTTP writes to the hot replica, so it needs -proxy-addr"), "\(noProxy.output)")
        let help = try await ChildProcess.run(sidecar, ["-h"])
        #expect(help.status == 0)
        #expect(help.output.contains("Hot/cold fail-over"), "\(help.output)")
        #expect(help.output.contains("every upstream"), "-h says which upstreams' health counts: \(help.output)")
        // Readable in a 100-column terminal, like discod's.
        let long = help.output.split(separator: "\n").filter { $0.count > 100 }.map(String.init)
        #expect(long.isEmpty, "\(long)")
        for flag in ["-hot-cold ", "-hot-cold-group", "-hot-priority", "-no-hot", "-hot-state-file", "-on-hot", "-on-cold", "-lease-ttl",
                     "-lease-renew ", "-hot-cold-reads"] {
            #expect(help.output.contains(flag), "\(flag) in -h")
        }
    }
}
