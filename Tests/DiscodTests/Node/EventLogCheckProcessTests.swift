import DiscoCore
import DiscoTestKit
import Foundation
import Synchronization
import Testing

// MARK: - A Jepsen-style check of the event log

extension NodeProcessTests {
    /// Concurrent clients append through every node while the leader is killed; afterwards
    /// every node's log must hold each acknowledged append exactly once, at the seq it was
    /// acknowledged with, no append twice, and acknowledged appends in real-time order (one
    /// acknowledged before another began has the lower seq). Run on both engines.
    @Suite struct EventLogCheck {
        struct Operation: Sendable {
            let client: Int
            let number: Int
            let invoked: ContinuousClock.Instant
            let acknowledged: ContinuousClock.Instant
            let seq: UInt64
            var data: String { #"{"c":\#(client),"n":\#(number)}"# }
        }

        final class History: Sendable {
            let operations = Mutex<[Operation]>([])
        }

        @Test(arguments: DiscodEngine.allCases) func acknowledgedAppendsSurviveALeaderKillOnceAndInOrder(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("check", engine: engine) { cluster in
                let (nodes, _, leaderID) = try await NodeTests.formedSeedCluster(cluster)
                let (victim, survivors) = try NodeTests.split(nodes, leader: leaderID)
                let history = History()
                let clients = 6
                let perClient = 25
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for client in 0..<clients {
                        let through = client % 2 == 0 ? survivors : nodes  // some clients lose their node
                        group.addTask {
                            // Each client goes on until `perClient` of its appends were acknowledged (the
                            // cluster must recover from the kill), trying a new append after a failure.
                            var number = 0
                            var done = 0
                            // The deadline only ends a run whose cluster never recovers: generous, since
                            // a starved machine can take well over a minute for 150 commits and an election.
                            let deadline = ContinuousClock.now + .seconds(180)
                            while done < perClient, ContinuousClock.now < deadline {
                                number += 1
                                let node = through[(client + number) % through.count]
                                let invoked = ContinuousClock.now
                                let body = #"{"c":\#(client),"n":\#(number)}"#
                                guard let answer = try? await node.request("POST", "/events", body: body, timeout: .seconds(10)),
                                      answer.status == 200, let seq = answer.json?["seq"]?.numberValue?.uint64Value else {
                                    try await Task.sleep(for: .milliseconds(50))  // client back-off before its next append
                                    continue
                                }
                                done += 1
                                history.operations.withLock {
                                    $0.append(Operation(client: client, number: number, invoked: invoked, acknowledged: .now, seq: seq))
                                }
                            }
                        }
                    }
                    group.addTask {
                        try await waitUntil("a third of the appends before the kill") {
                            history.operations.withLock { $0.count } >= clients * perClient / 3
                        }
                        await victim.kill()
                    }
                    try await group.waitForAll()
                }
                let acknowledged = history.operations.withLock { $0 }
                #expect(acknowledged.count == clients * perClient, "every client got its appends through after the kill: \(acknowledged.count)")

                // Every survivor's log, once it holds the highest acknowledged seq.
                let highest = acknowledged.map(\.seq).max() ?? 0
                for node in survivors {
                    var log: [(seq: UInt64, data: String)] = []
                    try await NodeTests.eventually("node \(node.nodeID) to hold seq \(highest)", survivors) {
                        guard let answer = try? await node.request("GET", "/events?since=0&limit=1000"), answer.status == 200,
                              let events = answer.json?["events"]?.arrayValue else { return false }
                        log = events.compactMap { event in
                            guard let seq = event["seq"]?.numberValue?.uint64Value, let data = event["data"]?.encoded() else { return nil }
                            return (seq, data)
                        }
                        return (log.last?.seq ?? 0) >= highest
                    }
                    #expect(log.map(\.seq) == Array(1...UInt64(log.count)), "seqs are dense on node \(node.nodeID)")
                    #expect(Set(log.map(\.data)).count == log.count, "no append appears twice on node \(node.nodeID)")
                    let bySeq = Dictionary(uniqueKeysWithValues: log.map { ($0.seq, $0.data) })
                    for operation in acknowledged {
                        #expect(bySeq[operation.seq] == operation.data,
                                "acknowledged \(operation.data) at seq \(operation.seq), node \(node.nodeID) holds \(bySeq[operation.seq] ?? "nothing")")
                    }
                }
                let ordered = acknowledged.sorted { $0.acknowledged < $1.acknowledged }
                for (index, earlier) in ordered.enumerated() {
                    for later in ordered[(index + 1)...] where later.invoked > earlier.acknowledged {
                        #expect(earlier.seq < later.seq, "\(earlier.data) was acknowledged before \(later.data) began, yet has a higher seq")
                    }
                }
            }
        }
    }
}
