import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Roles in real processes

extension NodeProcessTests {
    /// The seed's roles with real `discod` processes: the `dns` role answering `dig` and Disco's
    /// own discovery, `-bootstrap-needs` and `-requires`, and the events for `dns` consumed once
    /// per consumer across restarts.
    @Suite struct Roles {
        static let hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]

        /// `dig +short @127.0.0.1 -p PORT NAME TYPE`, sorted lines; nil when dig fails.
        static func dig(_ port: UInt16, _ name: String, _ type: String = "A") async -> [String]? {
            guard let outcome = try? await Command.run("/usr/bin/dig", ["+short", "+time=2", "+tries=2", "@127.0.0.1", "-p", "\(port)", name, type]),
                  outcome.succeeded else { return nil }
            return outcome.standardOutput.split(separator: "\n").map(String.init).sorted()
        }

        /// The port the node's dns role answers on (`/status` `roles.dns.addr`).
        static func dnsPort(_ node: DiscodProcess) async throws -> UInt16 {
            var port: UInt16?
            try await NodeTests.eventually("node \(node.nodeID)'s dns role to listen", [node]) {
                let addr = (try? await node.status())?["roles"]?["dns"]?["addr"]?.stringValue
                port = addr.flatMap { $0.split(separator: ":").last }.flatMap { UInt16($0) }
                return port != nil
            }
            return port ?? 0
        }

        static func discoctl(_ arguments: [String]) async throws -> Command.Outcome {
            try await Command.run(try DiscodProcess.executable("discoctl"), arguments)
        }

        /// Events for `dns` of `type` naming member `id`, as `node` has them.
        static func joinEvents(of id: String, on node: DiscodProcess, type: String = "member-joined") async -> Int? {
            guard let answer = try? await node.request("GET", "/events?role=dns&since=0&limit=1000"), answer.status == 200,
                  let events = answer.json?["events"]?.arrayValue else { return nil }
            return events.filter { $0["data"]?["type"]?.stringValue == type && $0["data"]?["member"]?["id"]?.stringValue == id }.count
        }

        @Test func theDNSRoleServesTheClusterToDigAndDiscoveryAndDropsAKilledMember() async throws {
            try await DiscodCluster.with("roles-dns") { cluster in
                let ports = try DiscodCluster.ports(count: 4)
                let join = (0..<3).map { "http://\(Self.hosts[$0]):\(ports[$0].http)" }.joined(separator: ",")
                let roles = [["-roles", "host,dns", "-dns-addr", "127.0.0.1:0"], ["-roles", "host,web"], ["-roles", "web"]]
                let nodes = try (0..<3).map { index in
                    try cluster.start(id: "\(index + 1)", host: Self.hosts[index], ports: ports[index],
                                      flags: ["-bootstrap-expect", "3", "-join", join] + roles[index])
                }
                let leader = try await DiscodCluster.waitForLeader(nodes)
                let port = try await Self.dnsPort(nodes[0])
                try await NodeTests.eventually("web.role.disco to answer nodes 2 and 3", nodes) {
                    await Self.dig(port, "web.role.disco") == ["127.0.0.2", "127.0.0.3"]
                }
                #expect(await Self.dig(port, "2.node.disco") == ["127.0.0.2"])
                #expect(await Self.dig(port, "host.role.disco") == ["127.0.0.1", "127.0.0.2"])
                #expect(await Self.dig(port, "_web._tcp.disco", "SRV") == ["0 1 \(ports[1].http) 2.node.disco.", "0 1 \(ports[2].http) 3.node.disco."])
                let leaderHost = Self.hosts[(Int(leader) ?? 1) - 1]
                try await NodeTests.eventually("leader.disco to answer the leader \(leader)", nodes) {
                    await Self.dig(port, "leader.disco") == [leaderHost]
                }

                // Disco's own discovery against the role: what another cluster's -disco-mode gets.
                let srv = try await Self.discoctl(["lookup", "-disco-mode", "dns-srv", "-disco-config",
                                                   #"{"name":"disco","service":"web","nameserver":"127.0.0.1:\#(port)"}"#])
                #expect(srv.succeeded, "\(srv.standardError)")
                #expect(srv.standardOutput.split(separator: "\n").sorted() == ["127.0.0.2:\(ports[1].http)", "127.0.0.3:\(ports[2].http)"])
                let dns = try await Self.discoctl(["lookup", "-disco-mode", "dns", "-disco-config",
                                                   #"{"name":"host.role.disco","port":4001,"nameserver":"127.0.0.1:\#(port)"}"#])
                #expect(dns.standardOutput.split(separator: "\n").sorted() == ["127.0.0.1:4001", "127.0.0.2:4001"], "\(dns.standardError)")

                // Node 3 killed: gossip declares it dead and it leaves the answers.
                await nodes[2].kill()
                try await NodeTests.eventually("web.role.disco to drop node 3", Array(nodes.prefix(2))) {
                    await Self.dig(port, "web.role.disco") == ["127.0.0.2"]
                }
                #expect(await Self.dig(port, "_web._tcp.disco", "SRV") == ["0 1 \(ports[1].http) 2.node.disco."])
                // Its name still resolves: it is a member, only not a live one.
                #expect(await Self.dig(port, "3.node.disco") == ["127.0.0.3"])

                // A joiner: served once it is a member, and both host nodes report its join once.
                let joiner = try cluster.start(id: "4", host: Self.hosts[3], ports: ports[3], flags: ["-join", join, "-roles", "web"])
                let running = [nodes[0], nodes[1], joiner]
                try await NodeTests.eventually("web.role.disco to answer nodes 2 and 4", running) {
                    await Self.dig(port, "web.role.disco") == ["127.0.0.2", "127.0.0.4"]
                }
                try await NodeTests.eventually("a host node to have reported node 4's join", running) {
                    await Self.joinEvents(of: "4", on: nodes[0]) == 1
                }
                #expect(await Self.joinEvents(of: "4", on: nodes[0]) == 1)
                #expect(await Self.joinEvents(of: "4", on: nodes[1]) == 1)

                // Node 3 removed: one member-left event, and its name is gone from the zone.
                var removed = false
                try await NodeTests.eventually("the leader to remove node 3", running) {
                    for node in running {
                        let answer = try? await node.request("DELETE", "/remove", body: #"{"id":"3"}"#, timeout: .seconds(10))
                        if answer?.status == 200 { removed = true }
                    }
                    return removed
                }
                try await NodeTests.eventually("one member-left event for node 3 and 3.node.disco gone", running) {
                    guard await Self.joinEvents(of: "3", on: nodes[0], type: "member-left") == 1 else { return false }
                    return await Self.dig(port, "3.node.disco")?.isEmpty == true
                }
            }
        }

        @Test func bootstrapNeedsWaitsForADNSMemberAndRequiresTracksIt() async throws {
            try await DiscodCluster.with("roles-needs") { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                let first = try cluster.start(id: "1", ports: ports[0], flags: ["-roles", "host"])
                try await NodeTests.eventually("node 1 to lead", [first]) { await first.leaderID() == "1" }
                let join = ["-join", "http://127.0.0.1:\(ports[0].http)"]
                let waiting = try cluster.start(id: "2", ports: ports[1], flags: join + ["-roles", "host", "-requires", "dns", "-bootstrap-needs", "dns"])
                try await NodeTests.eventually("node 2 to say what it waits for", [first, waiting]) {
                    waiting.process.output.contains("waiting for a live member performing dns (-bootstrap-needs)")
                }
                try await NodeTests.eventually("node 2 to be a member", [first, waiting]) { await first.memberIDs() == ["1", "2"] }
                let notReady = try await firstAnswer("GET /readyz on node 2") { try await waiting.request("GET", "/readyz") }
                #expect(notReady.status == 503)
                #expect(notReady.text.contains("waiting for a live member performing dns (-bootstrap-needs)"), "\(notReady.text)")
                #expect(try await firstAnswer("GET /readyz on node 1") { try await first.request("GET", "/readyz") }.status == 200)
                // /status says what the node requires and waits for.
                let waitingNode = try #require(try await firstAnswer("GET /status on node 2") { try await waiting.status() }["node"])
                #expect(waitingNode["requires"] == ["dns"] && waitingNode["missing_roles"] == ["dns"], "\(waitingNode)")
                #expect(waitingNode["bootstrap_needs"] == ["dns"] && waitingNode["bootstrap_needs_waiting"] == true, "\(waitingNode)")

                let dns = try cluster.start(id: "3", ports: ports[2], flags: join + ["-roles", "dns", "-dns-addr", "127.0.0.1:0"])
                let all = [first, waiting, dns]
                try await NodeTests.eventually("node 2 to finish starting and be ready", all) {
                    (try? await waiting.request("GET", "/readyz"))?.status == 200
                }
                // Logged just before the roles start, so the line may still be on its way through the pipe.
                try await waiting.process.waitForOutput(containing: "bootstrap needs met (dns by 3)")
                // The log says when the requirement is met, and (below) when it is not any more.
                let unmet = "requires role dns: no live member performs it; /readyz answers 503 until one does (-requires)"
                try await waiting.process.waitForOutput(containing: "requires role dns: performed by 3 (-requires)")
                let unmetBefore = waiting.process.output.components(separatedBy: unmet).count - 1
                #expect(try await firstAnswer("GET /status on node 2") { try await waiting.status() }["node"]?["missing_roles"] == [])
                let rows = try #require(try await firstAnswer("GET /nodes?role=dns on node 2") { try await waiting.request("GET", "/nodes?role=dns") }.json?.arrayValue)
                #expect(rows.map { $0["id"] } == ["3"] && rows.first?["roles"] == ["dns"])
                let table = try await Self.discoctl(["nodes", "-addr", waiting.apiURL, "-role", "dns", "-nonvoters"])
                #expect(table.succeeded && table.standardOutput.contains("ROLES"), "\(table.standardError)")
                #expect(table.standardOutput.split(separator: "\n").count == 2 && table.standardOutput.contains("dns\n"), "[\(table.standardOutput)] [\(table.standardError)]")

                // The only dns member dies: node 2's requirement is unmet again.
                await dns.kill()
                try await NodeTests.eventually("node 2's readyz to name the missing role", [first, waiting]) {
                    let answer = try? await waiting.request("GET", "/readyz")
                    return answer?.status == 503 && answer?.text.contains("requires role dns") == true
                }
                try await NodeTests.eventually("node 2 to log that no live member performs dns", [first, waiting]) {
                    waiting.process.output.components(separatedBy: unmet).count - 1 > unmetBefore
                }
                let unmetNode = try #require(try await firstAnswer("GET /status on node 2") { try await waiting.status() }["node"])
                #expect(unmetNode["missing_roles"] == ["dns"] && unmetNode["bootstrap_needs_waiting"] == false, "\(unmetNode)")
                // Node 1 requires nothing, yet its gauge for dns drops to 0 rather than vanishing.
                let metrics = try await firstAnswer("GET /metrics on node 1") { try await first.request("GET", "/metrics") }.text
                #expect(metrics.contains("disco_role_live_members{role=\"dns\"} 0\n"), "\(metrics.split(separator: "\n").filter { $0.contains("role") })")
                #expect(metrics.contains("disco_role_live_members{role=\"host\"} 2\n"))
            }
        }

        @Test func aNodeRestartedWithOtherRolesHasItsRecordChanged() async throws {
            try await DiscodCluster.with("roles-change") { cluster in
                let ports = try DiscodCluster.ports(count: 2)
                let first = try cluster.start(id: "1", ports: ports[0], flags: ["-roles", "host"])
                try await NodeTests.eventually("node 1 to lead", [first]) { await first.leaderID() == "1" }
                var second = try cluster.start(id: "2", ports: ports[1], flags: ["-join", "http://127.0.0.1:\(ports[0].http)", "-roles", "host"])
                let rolesOf2: @Sendable (DiscodProcess) async -> JSONValue? = { node in
                    await NodeTests.nodeRows(node)?.first { $0["id"] == "2" }?["roles"]
                }
                try await NodeTests.eventually("node 2 recorded with host", [first, second]) { await rolesOf2(first) == ["host"] }
                #expect(await second.terminate() == 0)
                second = try cluster.restart(second, flags: ["-join", "http://127.0.0.1:\(ports[0].http)", "-roles", "host,web"])
                try await NodeTests.eventually("node 2's record to carry web on both nodes", [first, second]) {
                    let leader = await rolesOf2(first)
                    let own = await rolesOf2(second)
                    return leader == ["host", "web"] && own == ["host", "web"]
                }
                let web = try await firstAnswer("GET /nodes?role=web on node 1") { try await first.request("GET", "/nodes?role=web") }
                    .json?.arrayValue?.map { $0["id"] }
                #expect(web == ["2"])

                // The consumers of the events for dns learn it too: the member-joined they hold
                // names node 2 with host only, and nothing else would correct it.
                try await NodeTests.eventually("one member-roles-changed event for node 2", [first, second]) {
                    await Self.joinEvents(of: "2", on: first, type: "member-roles-changed") == 1
                }
                let page = try await firstAnswer("GET /events?role=dns on node 1") { try await first.request("GET", "/events?role=dns&since=0&limit=1000") }
                    .json?["events"]?.arrayValue ?? []
                let change = page.first { $0["data"]?["type"] == "member-roles-changed" }?["data"]
                #expect(change?["member"]?["roles"] == ["host", "web"] && change?["previous"]?["roles"] == ["host"], "\(page)")
                #expect(await Self.joinEvents(of: "2", on: first, type: "member-address-changed") == 0)
            }
        }

        @Test func eventsForDNSAreConsumedOncePerConsumerAcrossRestarts() async throws {
            try await DiscodCluster.with("roles-consume") { cluster in
                var node = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: ["-roles", "dns", "-dns-addr", "127.0.0.1:0"])
                try await NodeTests.eventually("node 1 to lead", [node]) { await node.leaderID() == "1" }
                let a = try await NodeTests.append(#"{"type":"a","roles":["dns"]}"#, via: node)
                try await NodeTests.append(#"{"type":"x","roles":["web"]}"#, via: node)
                let b = try await NodeTests.append(#"{"type":"b","roles":["dns"]}"#, via: node)
                let types: @Sendable (String) -> [String] = { output in
                    output.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }.compactMap { $0["data"]?["type"]?.stringValue }
                }

                // discoctl as consumer c1: a and b, then nothing more.
                let consumer = ["events", "-addr", node.apiURL, "-role", "dns", "-consumer", "c1", "-format", "jsonl"]
                let firstRun = try await Self.discoctl(consumer)
                #expect(firstRun.succeeded && types(firstRun.standardOutput) == ["a", "b"], "\(firstRun.standardError)")
                let secondRun = try await Self.discoctl(consumer)
                #expect(secondRun.succeeded && types(secondRun.standardOutput).isEmpty, "\(secondRun.standardOutput)")

                // A following consumer c2 sees a and b; stopped once its cursor holds them.
                let discoctl = try DiscodProcess.executable("discoctl")
                let followArguments = ["events", "-addr", node.apiURL, "-role", "dns", "-consumer", "c2", "-follow", "-wait", "2s", "-format", "jsonl"]
                let follower = ChildProcess(name: "discoctl-follow", executable: discoctl, arguments: followArguments)
                try follower.start()
                try await NodeTests.eventually("c2's cursor at b", [node]) {
                    (try? await node.request("GET", "/events/cursor?role=dns&consumer=c2"))?.json?["seq"]?.numberValue?.uint64Value == b
                }
                await follower.stop()
                #expect(types(follower.output) == ["a", "b"], "\(follower.output)")
                // The node's own dns consumer handled a and b.
                try await NodeTests.eventually("the node's consumer at b", [node]) {
                    (try? await node.status())?["roles"]?["dns"]?["last_event"]?.numberValue?.uint64Value == b
                }
                #expect(node.process.output.contains("consumed event \(a) (a)"))

                // The node restarts; one more event for dns.
                #expect(await node.terminate() == 0)
                node = try cluster.restart(node)
                try await NodeTests.eventually("node 1 to lead again", [node]) { await node.leaderID() == "1" }
                let c = try await NodeTests.append(#"{"type":"c","roles":["dns"]}"#, via: node)
                try await NodeTests.eventually("the restarted node's consumer to handle c", [node]) {
                    node.process.output.contains("consumed event \(c) (c)")
                }
                #expect(!node.process.output.contains("consumed event \(a) "), "a was consumed again")
                #expect(!node.process.output.contains("consumed event \(b) "), "b was consumed again")
                #expect(try await firstAnswer("GET /status on node 1") { try await node.status() }["roles"]?["dns"]?["events_consumed"] == 1)

                // Each consumer resumes where it stopped: c only.
                let thirdRun = try await Self.discoctl(["events", "-addr", node.apiURL, "-role", "dns", "-consumer", "c1", "-format", "jsonl"])
                #expect(types(thirdRun.standardOutput) == ["c"], "\(thirdRun.standardOutput) \(thirdRun.standardError)")
                let resumed = ChildProcess(name: "discoctl-follow", executable: discoctl, arguments: followArguments)
                try resumed.start()
                try await NodeTests.eventually("c2's cursor at c", [node]) {
                    (try? await node.request("GET", "/events/cursor?role=dns&consumer=c2"))?.json?["seq"]?.numberValue?.uint64Value == c
                }
                await resumed.stop()
                #expect(types(resumed.output) == ["c"], "\(resumed.output)")
                // A new consumer starts from the oldest event.
                let fresh = try await Self.discoctl(["events", "-addr", node.apiURL, "-role", "dns", "-consumer", "c3", "-format", "jsonl"])
                #expect(types(fresh.standardOutput) == ["a", "b", "c"])
            }
        }
    }
}
