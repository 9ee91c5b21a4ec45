import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - -consensus etcd: every node stopped during -bootstrap-expect formation

extension NodeProcessTests {
    /// Nodes stopped (SIGTERM or kill -9) while forming keep their intent (`etcd-member.json`,
    /// `"state":"joining"`) and their bootstrap promises, so each of them, started again, waits
    /// for etcd like a member. When every node of a `-bootstrap-expect 3` cluster stopped before
    /// etcd held a cluster, that wait ends once etcd answers (it names no cluster, so none of
    /// them is a member), and formation starts over: they must form, not wait for each other.
    @Suite struct EtcdFormationStopped {
        /// Node 3 advertises a relay that holds back its acceptance of node 1's proposal, so all
        /// three hold a promise to it on disk while node 1 has not bootstrapped etcd. Node 1 (the
        /// proposer) is killed, nodes 2 and 3 get SIGTERM. All three started again while etcd is
        /// down wait for it; once it is up they form one cluster of the three, and each records
        /// itself a member.
        @Test func aClusterStoppedAfterItsVotersPromisedFormsWhenStartedAgain() async throws {
            try await DiscodCluster.with("etcd-formation-stopped", engine: .etcd) { cluster in
                let etcd = try #require(cluster.etcd)
                let ports = try DiscodCluster.ports(count: 3)
                let relay = try await AnswerRelay.start(holding: "/bootstrap/propose")
                let relayed = "http://127.0.0.1:\(ports[0].http),http://127.0.0.1:\(ports[1].http),http://\(relay.address)"
                // The proposer waits (up to 120 s) for node 3's held answer instead of retrying.
                let forming = ["-bootstrap-expect", "3", "-join", relayed, "-cluster-connect-timeout", "120s"]
                let first = try cluster.start(id: "1", ports: ports[0], flags: forming)
                let second = try cluster.start(id: "2", ports: ports[1], flags: forming)
                let third = try cluster.start(id: "3", ports: ports[2], flags: forming + ["-http-adv-addr", relay.address])
                relay.forward(to: third)
                let nodes = [first, second, third]
                try await NodeTests.eventually("every node to hold a promise and node 3 to accept", nodes, timeout: .seconds(90)) {
                    relay.accepted && nodes.allSatisfy { Self.promise(in: $0) != nil }
                }
                #expect(try await Self.clusterKeyInEtcd(cluster) == false, "no cluster in etcd yet")

                await first.kill()
                _ = await second.terminate()
                _ = await third.terminate()
                await relay.stop()
                for node in nodes {
                    #expect(NodeProcessTests.EtcdJoiningIntent.record(in: node)?["state"]?.stringValue == "joining", "\(node.process.output)")
                    #expect(Self.promise(in: node) != nil, "\(node.process.output)")
                }
                #expect(try await Self.clusterKeyInEtcd(cluster) == false, "no cluster in etcd after the stop")

                await etcd.stopMember(0)
                let join = DiscodCluster.joinList(ports)
                let again = try nodes.map { try cluster.restart($0, flags: ["-bootstrap-expect", "3", "-join", join]) }
                for node in again {
                    let waiting = try await EtcdUnreachableAtStart.waitingStatus(of: node, failedReads: 1)
                    #expect(waiting["consensus"]?["membership_record"]?.stringValue == "joining", "\(waiting.encoded())")
                }
                try await etcd.restartMember(0)
                try await DiscodCluster.waitForLeader(again, timeout: .seconds(120))
                try await NodeTests.eventually("the three to form one cluster and record themselves members", again, timeout: .seconds(90)) {
                    for node in again {
                        guard await node.memberIDs()?.sorted() == ["1", "2", "3"],
                              NodeProcessTests.EtcdJoiningIntent.record(in: node)?["state"]?.stringValue == "member" else { return false }
                    }
                    return true
                }
                try await NodeTests.expectStateInEtcd(cluster, events: 0)
            }
        }

        /// The proposal a node's `bootstrap-promise.json` holds, nil when none (or no file).
        static func promise(in node: DiscodProcess) -> JSONValue? {
            guard let bytes = FileManager.default.contents(atPath: node.dataDirectory + "/bootstrap-promise.json"),
                  let promise = (try? JSONValue.parse(Array(bytes)))?["promise"], promise != .null else { return nil }
            return promise
        }

        /// Whether etcd holds the cluster key under this test cluster's `-disco-key`.
        static func clusterKeyInEtcd(_ cluster: DiscodCluster) async throws -> Bool {
            let etcd = try #require(cluster.etcd)
            let client = EtcdClient(gateway: EtcdGateway(endpoints: etcd.endpoints, transport: HTTPClient()))
            let keys = EtcdClusterKeys(discoKey: "disco-\(cluster.root.suffix(8))")
            return try await client.get(keys.cluster) != nil
        }
    }
}
