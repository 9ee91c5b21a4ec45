import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - Idempotency-Key on POST /events

extension NodeProcessTests {
    @Suite struct Idempotency {
        /// An append with an `Idempotency-Key`, retried on another node and again after the
        /// leader stepped down, answers the first append's seq and index each time and appends
        /// once; a new key appends; a malformed key is refused.
        @Test(arguments: DiscodEngine.allCases) func retriesReturnTheFirstSeqAcrossALeaderChange(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("idempotency", engine: engine) { cluster in
                let (nodes, _, leaderID) = try await NodeTests.formedSeedCluster(cluster)
                let (leader, followers) = try NodeTests.split(nodes, leader: leaderID)
                let event = #"{"test":"idempotency","n":1}"#
                let key = [("Idempotency-Key", "deploy-7f3a9c")]

                var first: DiscodAnswer?
                try await NodeTests.eventually("the keyed append through a follower", nodes) {
                    first = try? await followers[0].request("POST", "/events", body: event, headers: key, timeout: .seconds(10))
                    return first?.status == 200
                }
                let seq = try #require(first?.json?["seq"]?.numberValue?.uint64Value)
                let index = try #require(first?.json?["index"]?.numberValue?.uint64Value)
                #expect(first?.headers["Idempotent-Replayed"] == nil)

                let again = try await leader.request("POST", "/events", body: event, headers: key)
                #expect(again.status == 200)
                #expect(again.json?["seq"]?.numberValue?.uint64Value == seq && again.json?["index"]?.numberValue?.uint64Value == index, "\(again.text)")
                #expect(again.headers["Idempotent-Replayed"] == "true")
                // Another event under the key is refused, by the leader and through a follower,
                // and not appended (waitForEvents below).
                for node in [leader, followers[1]] {
                    let reused = try await node.request("POST", "/events", body: #"{"test":"idempotency","n":99}"#, headers: key,
                                                        timeout: .seconds(10))
                    #expect(reused.status == 422, "node \(node.nodeID): \(reused.status) \(reused.text)")
                    let named = #"Idempotency-Key "deploy-7f3a9c" was first used for a different event, appended as seq \#(seq)"#
                    #expect(reused.json?["error"]?.stringValue?.contains(named) == true, "node \(node.nodeID): \(reused.text)")
                }

                // The leader steps down; the retry reaches another node under a new leader.
                #expect(await leader.terminate() == 0)
                let survivors = followers
                let next = try await NodeTests.waitForNewLeader(survivors, replacing: leaderID)
                #expect(next != leaderID)
                for node in survivors {
                    let retry = try await node.request("POST", "/events", body: event, headers: key, timeout: .seconds(10))
                    #expect(retry.status == 200, "\(retry.status) \(retry.text)")
                    #expect(retry.json?["seq"]?.numberValue?.uint64Value == seq, "node \(node.nodeID): \(retry.text)")
                    #expect(retry.json?["index"]?.numberValue?.uint64Value == index, "node \(node.nodeID): \(retry.text)")
                    #expect(retry.headers["Idempotent-Replayed"] == "true")
                }

                let other = #"{"test":"idempotency","n":2}"#
                let fresh = try await survivors[1].request("POST", "/events", body: other, headers: [("Idempotency-Key", "deploy-8")],
                                                           timeout: .seconds(10))
                #expect(fresh.status == 200, "\(fresh.text)")
                #expect(fresh.json?["seq"]?.numberValue?.uint64Value == seq + 1)
                try await NodeTests.waitForEvents([event, other], on: survivors)

                let bad = try await survivors[0].request("POST", "/events", body: other, headers: [("Idempotency-Key", "has space")])
                #expect(bad.status == 400)
                #expect(bad.json?["error"]?.stringValue?.contains("visible ASCII") == true, "\(bad.text)")
                let two = try await survivors[0].request("POST", "/events", body: other,
                                                         headers: [("Idempotency-Key", "deploy-9"), ("Idempotency-Key", "deploy-10")])
                #expect(two.status == 400)
                #expect(two.json?["error"]?.stringValue?.contains("2 Idempotency-Key headers; send one") == true, "\(two.text)")
                let status = try await survivors[0].status()
                #expect(status["events"]?["idempotency_keys"]?.numberValue?.intValue == 2)
            }
        }

        /// A follower forwards to a leader that stops answering (SIGSTOP): the answer says the
        /// outcome is unknown and names the key to retry with; the retry under the next leader
        /// appends the event exactly once.
        @Test func unknownOutcomeNamesTheKey() async throws {
            try await DiscodCluster.with("unknown-outcome") { cluster in
                let (nodes, _, leaderID) = try await NodeTests.formedSeedCluster(cluster)
                let (leader, followers) = try NodeTests.split(nodes, leader: leaderID)
                try await NodeTests.eventually("followers to know the leader's address", nodes) {
                    await followers[0].leaderID() == leaderID
                }
                leader.process.send(SIGSTOP)
                let event = #"{"test":"unknown-outcome"}"#
                let key = [("Idempotency-Key", "job-42")]
                let answer = try await followers[0].request("POST", "/events", body: event, headers: key, timeout: .seconds(30))
                leader.process.send(SIGCONT)
                if answer.status == 504 {
                    let message = answer.json?["error"]?.stringValue ?? ""
                    #expect(message.contains("the outcome is unknown"), "\(answer.text)")
                    #expect(message.contains(#"Retry with the same Idempotency-Key "job-42""#), "\(answer.text)")
                } else {
                    // The follower learned of a new leader before forwarding: also fine.
                    #expect([200, 503].contains(answer.status), "\(answer.status) \(answer.text)")
                }
                var seq: UInt64?
                try await NodeTests.eventually("the retry to append or replay", nodes) {
                    let retry = try? await followers[1].request("POST", "/events", body: event, headers: key, timeout: .seconds(10))
                    seq = retry?.json?["seq"]?.numberValue?.uint64Value
                    return retry?.status == 200
                }
                #expect(seq == 1)
                try await NodeTests.waitForEvents([event], on: nodes)
            }
        }
    }
}
