import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - The etcd engine against a 3-member etcd

extension NodeProcessTests {
    /// Three `discod -consensus etcd` nodes on a real 3-member etcd: an etcd member killed
    /// changes nothing, etcd fully down makes writes answer 503 naming etcd while reads keep
    /// answering, and everything recovers by itself when etcd returns, with the same events on
    /// every node.
    @Suite struct EtcdEngine {
        @Test func etcdMemberKillAndFullOutageWithThreeMemberEtcd() async throws {
            try await DiscodCluster.with("etcd3", engine: .etcd, etcdMembers: 3) { cluster in
                let etcd = try #require(cluster.etcd)
                let (nodes, _, leaderID) = try await NodeTests.formedSeedCluster(cluster)
                let (leader, followers) = try NodeTests.split(nodes, leader: leaderID)
                let events = NodeTests.events("etcd3", 1...4)
                _ = try await NodeTests.append(events[0], via: followers[0])

                await etcd.stopMember(0)
                _ = try await NodeTests.append(events[1], via: followers[1], others: nodes)
                try await NodeTests.waitForEvents(Array(events[0...1]), on: nodes)

                await etcd.stopMember(1)
                await etcd.stopMember(2)
                var refusal = ""
                try await NodeTests.eventually("a write to answer 503 naming etcd while etcd is down", nodes) {
                    guard let answer = try? await leader.request("POST", "/events", body: #"{"refused":true}"#, timeout: .seconds(20)) else {
                        return false
                    }
                    refusal = "\(answer.status) \(answer.text)"
                    #expect(answer.status != 200, "a write succeeded with etcd down: \(refusal)")
                    return answer.status == 503 && answer.text.contains("etcd")
                }
                for node in nodes {
                    let read = try await firstAnswer("GET /events?since=0 on node \(node.nodeID)") { try await node.request("GET", "/events?since=0") }
                    #expect(read.status == 200, "reads answer from what the node applied: \(read.status) \(read.text)")
                }

                for member in 0..<3 { try etcd.members[member].process.start(environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ETCD") }) }
                for member in 0..<3 {
                    try await waitUntil("etcd member \(member) healthy again", timeout: .seconds(60)) { await etcd.isHealthy(etcd.members[member]) }
                }
                _ = try await NodeTests.append(events[2], via: followers[0], others: nodes)
                _ = try await NodeTests.append(events[3], via: leader, others: nodes)
                try await NodeTests.waitForEvents(events, on: nodes)
                try await NodeTests.expectStateInEtcd(cluster, events: 4)
                #expect(!refusal.isEmpty)
            }
        }
    }
}
