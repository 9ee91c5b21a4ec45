import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Formation requests from outside

extension NodeProcessTests {
    @Suite struct FormationRequests {
        /// A forming node accepted a `POST /bootstrap/propose` made in its own name (it sends its
        /// proposals only to others, so such a request is forged) and persisted the promise. With
        /// the largest sequence number, the next start computed the sequence after it, trapped
        /// on the overflow and crashed, on every restart. The node now refuses a proposal in its
        /// name, and a promise file already holding that sequence no longer stops it starting.
        @Test func aProposalInTheNodesOwnNameIsRefusedAndTheLargestSequenceDoesNotCrashARestart() async throws {
            try await DiscodCluster.with("forged-proposal") { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                let flags = NodeTests.seedFlags(expect: 3, join: ports)
                let node = try cluster.start(id: "1", ports: ports[0], flags: flags)
                // Forming: before its bootstrap engine runs, a node refuses every proposal alike.
                try await NodeTests.eventually("node 1 to run formation rounds", [node]) {
                    ((try? await node.status())?["bootstrap"]?["rounds"]?.numberValue?.intValue ?? 0) >= 1
                }
                let voters = #"[{"id":"1","addr":"\#(node.raftAddress)","api_addr":"\#(node.apiURL)","voter":true},"#
                    + #"{"id":"9","addr":"127.0.0.1:1","api_addr":"http://127.0.0.1:2","voter":true}]"#
                let forged = #"{"proposer":"1","sequence":18446744073709551615,"cluster":"disco","expect":3,"voters":\#(voters)}"#
                let answer = try await node.request("POST", "/bootstrap/propose", body: forged)
                #expect(answer.status == 409, "\(answer.status) \(answer.text)")
                #expect(answer.text.contains("proposer"), "\(answer.text)")

                // A promise file written before this fix: the node starts and keeps forming.
                #expect(await node.terminate() == 0)
                let promise = #"{"promise":{"proposer":"1","sequence":18446744073709551615,"cluster":"disco","expect":3,"voters":\#(voters)}}"#
                try Data(promise.utf8).write(to: URL(fileURLWithPath: cluster.dataDirectory(for: "1") + "/bootstrap-promise.json"))
                let restarted = try cluster.restart(node)
                try await NodeTests.eventually("the restarted node 1 to run formation rounds again", [restarted]) {
                    let rounds = (try? await restarted.status())?["bootstrap"]?["rounds"]?.numberValue?.intValue ?? 0
                    return rounds >= 2
                }
                #expect(restarted.process.exitStatus == nil, "\(restarted.process.output.suffix(3000))")
            }
        }
    }
}
