import DiscoCore
import DiscoTestKit
import Foundation
import Testing

/// `-disco-mode dns` and `-disco-mode dns-srv` with `-bootstrap-expect 3`: real `discod`
/// processes find each other through a real dnsmasq and form exactly one cluster.
@Suite(.serialized) struct DNSFormationTests {
    /// dns A records carry no port: every node listens on the same HTTP port on its own loopback
    /// address (127.0.0.1, .2, .3) and the node uses its own `-http-addr` port for the others.
    @Test func dnsModeFormsOneClusterOfThreeOnThreeLoopbackAddresses() async throws {
        let hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
        var records = DnsmasqFixture.Records()
        records.localDomains = ["disco.test"]
        records.hosts = hosts.map { ("nodes.disco.test", $0) }
        try await DnsmasqFixture.with(records) { dns in
            try await DiscodCluster.with("dns") { cluster in
                // One pair of ports for every node: the addresses differ, the ports do not.
                let ports = try DiscodCluster.ports()
                let config = #"{"name":"nodes.disco.test","nameserver":"\#(dns.nameserver)"}"#
                var nodes: [DiscodProcess] = []
                for (index, host) in hosts.enumerated() {
                    nodes.append(try cluster.start(id: "\(index + 1)", host: host, ports: ports, flags: [
                        "-disco-mode", "dns", "-disco-config", config, "-bootstrap-expect", "3",
                    ]))
                }
                let leader = try await FormationChecks.waitForOneCluster(nodes)
                #expect(try await FormationChecks.memberAPIAddresses(leader) == nodes.map(\.apiURL).sorted())
                for node in nodes {
                    let targets = try await FormationChecks.discoveryTargets(node)
                    for host in hosts {
                        #expect(targets.contains { $0.contains("\(host):\(ports.http)") },
                                "node \(node.nodeID) reports the dns targets \(targets)")
                    }
                }
            }
        }
    }

    /// SRV records carry the port: three nodes on 127.0.0.1 with their own HTTP ports.
    @Test func dnsSRVModeFormsOneClusterOfThreeWithPerNodePorts() async throws {
        try await Self.withThreeSRVNodes("dns-srv") { _, ports, nodes in
            let leader = try await FormationChecks.waitForOneCluster(nodes)
            #expect(try await FormationChecks.memberAPIAddresses(leader) == nodes.map(\.apiURL).sorted())
            let targets = try await FormationChecks.discoveryTargets(leader)
            for pair in ports {
                #expect(targets.contains { $0.contains("127.0.0.1:\(pair.http)") }, "the leader reports the SRV targets \(targets)")
            }
        }
    }

    /// `-bootstrap-expect 1` with a discovery answer that names only the node itself (one
    /// replica whose advertised address is what DNS returns, as the k8s manifests set it): the
    /// node's own address is filtered from the targets, so there is nobody to notify, and the
    /// node must still bootstrap alone rather than wait out -bootstrap-expect-timeout.
    @Test func dnsSRVModeWithExpectOneFormsAloneWhenTheAnswerIsOnlyItself() async throws {
        let ports = try DiscodCluster.ports()
        var records = DnsmasqFixture.Records()
        records.localDomains = ["disco.test"]
        records.hosts = [("n1.disco.test", "127.0.0.1")]
        records.srv = [DnsmasqFixture.SRV(name: "_disco-http._tcp.disco.test", target: "n1.disco.test", port: ports.http)]
        try await DnsmasqFixture.with(records) { dns in
            try await DiscodCluster.with("dns-srv-one") { cluster in
                let config = #"{"name":"disco.test","service":"disco-http","nameserver":"\#(dns.nameserver)"}"#
                let node = try cluster.start(id: "1", ports: ports, flags: [
                    "-disco-mode", "dns-srv", "-disco-config", config, "-bootstrap-expect", "1", "-bootstrap-expect-timeout", "60s",
                ])
                try await FormationChecks.waitForOneCluster([node], timeout: .seconds(50))
            }
        }
    }

    /// A StatefulSet pod scaled away, removed with `DELETE /remove`, and scaled back with its old
    /// volume (`whenScaled: Retain`): its rejoin is answered "removed", it records that and exits
    /// 1, and every later start exited 1 at once for want of -join — a restart loop. Restarted
    /// with the same command line (dns-srv discovery, no -join), it now sets its old Raft state
    /// aside and joins through discovery as a new member.
    @Test func aRemovedMemberBackWithItsOldDataJoinsThroughDiscoveryAsANewMember() async throws {
        try await Self.withThreeSRVNodes("dns-srv-removed") { cluster, _, nodes in
            let leader = try await FormationChecks.waitForOneCluster(nodes)
            let target = try #require(nodes.first { $0.nodeID != leader.nodeID })
            let remaining = nodes.filter { $0.nodeID != target.nodeID }
            // Scaled down: the pod stops, then the operator removes it (retried after a 503 or no answer).
            #expect(await target.terminate() == 0)
            try await NodeTests.remove(target.nodeID, via: leader, watching: remaining)
            let others = remaining.map(\.nodeID).sorted()
            try await NodeTests.eventually("the two remaining voters", remaining) { await NodeTests.voterIDs(leader) == others }

            // Scaled back with its old volume: the cluster answers its rejoin "removed".
            let back = try cluster.restart(target)
            #expect(try await back.process.waitForExit(timeout: .seconds(90)) == 1)
            #expect(back.process.output.contains("no longer a member"), Comment(rawValue: back.process.output))
            // Restarted as the StatefulSet would, with the same command line.
            let again = try cluster.restart(target)
            try await NodeTests.eventually("node \(target.nodeID) to vote again", remaining + [again]) {
                await NodeTests.voterIDs(leader) == ["1", "2", "3"]
            }
            #expect(again.process.output.contains("joining again through discovery (-disco-mode) as a new member"),
                    Comment(rawValue: again.process.output))
            #expect(FileManager.default.fileExists(atPath: cluster.dataDirectory(for: target.nodeID) + "/raft.removed"))
            _ = try await NodeTests.append(#"{"test":"removed-and-back"}"#, via: again, others: remaining)
        }
    }

    /// Three nodes on 127.0.0.1 found through dnsmasq's SRV records (`n1…n3.disco.test`, each
    /// with its own HTTP port), started with `-disco-mode dns-srv -bootstrap-expect 3`.
    static func withThreeSRVNodes(
        _ name: String, _ body: (DiscodCluster, [(http: UInt16, raft: UInt16)], [DiscodProcess]) async throws -> Void
    ) async throws {
        let ports = try DiscodCluster.ports(count: 3)
        var records = DnsmasqFixture.Records()
        records.localDomains = ["disco.test"]
        records.hosts = (1...3).map { ("n\($0).disco.test", "127.0.0.1") }
        records.srv = ports.enumerated().map { index, pair in
            DnsmasqFixture.SRV(name: "_disco-http._tcp.disco.test", target: "n\(index + 1).disco.test", port: pair.http)
        }
        try await DnsmasqFixture.with(records) { dns in
            try await DiscodCluster.with(name) { cluster in
                let config = #"{"name":"disco.test","service":"disco-http","nameserver":"\#(dns.nameserver)"}"#
                var nodes: [DiscodProcess] = []
                for (index, pair) in ports.enumerated() {
                    nodes.append(try cluster.start(id: "\(index + 1)", ports: pair, flags: [
                        "-disco-mode", "dns-srv", "-disco-config", config, "-bootstrap-expect", "3",
                    ]))
                }
                try await body(cluster, ports, nodes)
            }
        }
    }
}
