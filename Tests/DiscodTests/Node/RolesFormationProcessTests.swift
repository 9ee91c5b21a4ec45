import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Roles at formation, in real processes

extension NodeProcessTests.Roles {
    /// The member-joined events for `dns` on `node`, by member ID.
    static func joinedEventCounts(on node: DiscodProcess) async -> [String: Int]? {
        guard let answer = try? await node.request("GET", "/events?role=dns&since=0&limit=1000"), answer.status == 200,
              let events = answer.json?["events"]?.arrayValue else { return nil }
        var counts: [String: Int] = [:]
        for event in events where event["data"]?["type"]?.stringValue == "member-joined" {
            if let id = event["data"]?["member"]?["id"]?.stringValue { counts[id, default: 0] += 1 }
        }
        return counts
    }

    @Test func theMembersThatFormedTheClusterEachGetOneJoinedEventAlsoAfterALeaderChange() async throws {
        try await DiscodCluster.with("roles-founders") { cluster in
            let ports = try DiscodCluster.ports(count: 3)
            let join = DiscodCluster.joinList(ports)
            var nodes = try (0..<3).map { index in
                try cluster.start(id: "\(index + 1)", ports: ports[index], flags: ["-bootstrap-expect", "3", "-join", join, "-roles", "host"])
            }
            let leader = try await DiscodCluster.waitForLeader(nodes)
            let everyone = ["1": 1, "2": 1, "3": 1]
            try await NodeTests.eventually("one member-joined event for each founder", nodes) {
                await Self.joinedEventCounts(on: nodes[0]) == everyone
            }

            // The leader stops; the others elect a new one, it comes back: every host role looks
            // at the members again, and nothing is reported twice.
            let index = (Int(leader) ?? 1) - 1
            #expect(await nodes[index].terminate() == 0)
            let others = nodes.enumerated().filter { $0.offset != index }.map(\.element)
            let next = try await DiscodCluster.waitForLeader(others)
            #expect(next != leader)
            nodes[index] = try cluster.restart(nodes[index])
            try await DiscodCluster.waitForLeader(nodes)
            try await NodeTests.eventually("the restarted node's host role to have compared the members", nodes) {
                nodes[index].process.output.contains("reported to roles dns; reporting their changes")
            }
            // An event appended after the comparison: once every node has it, any duplicate
            // report made before it would be in their logs too.
            let marker = try await NodeTests.append(#"{"type":"marker","roles":["dns"]}"#, via: nodes[index], others: nodes)
            for node in nodes {
                try await NodeTests.eventually("node \(node.nodeID) to have the marker", nodes) {
                    (try? await node.request("GET", "/events?since=\(marker - 1)&limit=1"))?.json?["events"]?.arrayValue?.count == 1
                }
                #expect(await Self.joinedEventCounts(on: node) == everyone)
            }
        }
    }
}

// MARK: - A second cluster formed through the first one's DNS role

extension NodeProcessTests.Roles {
    /// Cluster A is the hosts' control plane: each host is a member of A that performs `db`,
    /// and one member serves DNS. Cluster B is the database those hosts run, each B node on the
    /// same host as its A member, on one well-known port. B's nodes find each other as the A
    /// records of `db.role.disco` (the hosts that perform `db`) at that port, and form with
    /// `-bootstrap-expect 3`. (SRV records carry A's API ports, so they find A's members, not B's.)
    @Test func aSecondClusterFormsThroughTheFirstClustersDNSRole() async throws {
        try await DiscodCluster.with("roles-cluster-a") { clusterA in
            let ports = try DiscodCluster.ports(count: 3)
            let join = (0..<3).map { "http://\(Self.hosts[$0]):\(ports[$0].http)" }.joined(separator: ",")
            let a = try (0..<3).map { index in
                let roles = index == 0 ? ["-roles", "db,dns", "-dns-addr", "127.0.0.1:0"] : ["-roles", "db"]
                return try clusterA.start(id: "a\(index + 1)", host: Self.hosts[index], ports: ports[index],
                                          flags: ["-bootstrap-expect", "3", "-join", join] + roles)
            }
            try await DiscodCluster.waitForLeader(a)
            let dnsPort = try await Self.dnsPort(a[0])
            try await NodeTests.eventually("db.role.disco to name the three hosts", a) {
                await Self.dig(dnsPort, "db.role.disco") == Array(Self.hosts.prefix(3))
            }

            let udpQueries: @Sendable () async -> Int = {
                let metrics = (try? await a[0].request("GET", "/metrics"))?.text ?? ""
                let line = metrics.split(separator: "\n").first { $0.hasPrefix("disco_dns_queries_total{transport=\"udp\"} ") }
                return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1
            }
            let queriesBefore = await udpQueries()
            #expect(queriesBefore >= 0)
            try await DiscodCluster.with("roles-cluster-b") { clusterB in
                let port = try FreePort.loopback()
                let discovery = #"{"name":"db.role.disco","port":\#(port),"nameserver":"127.0.0.1:\#(dnsPort)"}"#
                let b = try (0..<3).map { index in
                    try clusterB.start(id: "b\(index + 1)", host: Self.hosts[index], ports: (port, try FreePort.loopback()),
                                       flags: ["-disco-mode", "dns", "-disco-config", discovery, "-bootstrap-expect", "3"])
                }
                let leader = try await DiscodCluster.waitForLeader(b)
                #expect(["b1", "b2", "b3"].contains(leader))
                try await NodeTests.eventually("B to have its three members", b + a) {
                    for node in b where await node.memberIDs() != ["b1", "b2", "b3"] { return false }
                    return true
                }
                // Two clusters: A's members are not B's, and B commits on its own.
                #expect(try await firstAnswer("GET /nodes on a1") { await a[0].memberIDs() } == ["a1", "a2", "a3"])
                let seq = try await NodeTests.append(#"{"on":"b"}"#, via: b[1], others: b)
                #expect(seq == 1)
                // B's nodes asked A's DNS role (dig above asked it too, before the count).
                #expect(await udpQueries() >= queriesBefore + 3)
            }
        }
    }
}
