import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Configuration problems during formation

extension NodeProcessTests {
    @Suite struct FormationProblems {
        /// Three nodes with `-auth` and `-bootstrap-expect 3`; node 3's auth file stores another
        /// password for the `-join-as` user, so every join and notify between it and the others
        /// is refused with 401. Node 3 says so at the default log level while it retries: a
        /// warning naming the node that refused, the 401 and `-join-as`, not repeated round after
        /// round; `/status` shows it, and the timeout that ends formation names it.
        @Test func wrongJoinAsPasswordIsAWarningNamingTargetAndFlag() async throws {
            try await DiscodCluster.with("joinas-wrong") { cluster in
                let authFile = try await AccessControl.writeAuthFile(in: cluster)
                let text = try String(contentsOfFile: authFile, encoding: .utf8)
                let wrongFile = cluster.root + "/auth-wrong.json"
                try text.replacingOccurrences(of: "node-pass", with: "not-the-node-pass").write(toFile: wrongFile, atomically: true, encoding: .utf8)
                let ports = try DiscodCluster.ports(count: 3)
                let flags = NodeTests.seedFlags(expect: 3, join: ports) + ["-join-as", "node", "-bootstrap-expect-timeout", "25s"]
                let admin = AccessControl.basic("admin", "admin-pass")
                let nodes = try ports.enumerated().map { index, pair in
                    try cluster.start(id: "\(index + 1)", ports: pair, flags: flags + ["-auth", index == 2 ? wrongFile : authFile],
                                      authorization: admin)
                }
                let odd = nodes[2]
                let others = [ports[0], ports[1]].map { "127.0.0.1:\($0.http)" }
                func warnings() -> [Substring] {
                    odd.process.output.split(separator: "\n").filter { $0.contains("level=warning") && $0.contains("-join-as") }
                }
                try await NodeTests.eventually("node 3 to warn that a node refused its -join-as credentials with 401", nodes) {
                    warnings().contains { line in line.contains("401") && others.contains { line.contains($0) } }
                }
                try await NodeTests.eventually("node 3's /status to show the problem", [odd]) {
                    let problem = (try? await odd.status())?["bootstrap"]?["configuration_problem"]?.stringValue ?? ""
                    return problem.contains("401") && problem.contains("-join-as")
                }
                // Several more rounds of retries: the warning is not repeated with each of them.
                let start = (try await odd.status())["bootstrap"]?["rounds"]?.numberValue?.intValue ?? 0
                try await NodeTests.eventually("five more bootstrap rounds on node 3", [odd]) {
                    ((try? await odd.status())?["bootstrap"]?["rounds"]?.numberValue?.intValue ?? 0) >= start + 5
                }
                #expect(warnings().count <= 2, "one warning per refusing node expected:\n\(warnings().joined(separator: "\n"))")

                #expect(try await odd.process.waitForExit(timeout: .seconds(60)) == 1)
                let ending = odd.process.output.split(separator: "\n").first { $0.contains("no cluster formed or joined within") } ?? ""
                #expect(ending.contains("configuration problem") && ending.contains("401") && ending.contains("-join-as"),
                        "the timeout should name the credentials problem: \(ending)")
                // The others were refused by node 3 in turn, and say so too.
                for node in nodes.prefix(2) {
                    let said = node.process.output.split(separator: "\n").contains {
                        $0.contains("level=warning") && $0.contains("127.0.0.1:\(ports[2].http)") && $0.contains("401") && $0.contains("-join-as")
                    }
                    #expect(said, "node \(node.nodeID) did not warn about node 3's refusal:\n\(node.process.output.suffix(3000))")
                }
            }
        }
    }
}
