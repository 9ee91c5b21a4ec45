import DiscoCore
import DiscoSWIM
import DiscoTestKit
import Foundation
import Testing

// MARK: - Real processes: rotating the gossip key of a running cluster

/// Serialized: up to five agent processes at a time.
@Suite(.serialized) struct AgentKeyRotationTests {
    static let keyA = "oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE="
    static let keyB = "srKysrKysrKysrKysrKysrKysrKysrKysrKysrKysrI="

    static func fingerprint(_ base64: String) throws -> String { try GossipKey(base64: base64).fingerprint }

    /// The counters of the agent's last STATS line, after asking for a fresh one with SIGUSR1.
    static func statistics(_ agent: ChildProcess) async throws -> [String: Int] {
        let before = agent.output.components(separatedBy: "STATS ").count
        agent.send(SIGUSR1)
        try await waitUntil("\(agent.name) to print STATS", pollEvery: .milliseconds(50)) {
            agent.output.components(separatedBy: "STATS ").count > before
        }
        let line = agent.output.components(separatedBy: "STATS ").last?.split(separator: "\n").first ?? ""
        var values: [String: Int] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Int(parts[1]) { values[String(parts[0])] = value }
        }
        return values
    }

    /// A three-agent cluster moves from key A to key B in serf's three steps (install the new key
    /// as accepted, make it primary, remove the old), each step written to every agent's keyring
    /// file and loaded on SIGHUP. No agent is ever declared dead, no message fails to open, and
    /// afterwards only key B gets in.
    @Test func threeAgentsRotateTheirKeyWithoutLosingAMember() async throws {
        let directory = NSTemporaryDirectory() + "disco-rotation-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func writeKeyring(_ name: String, _ json: String) throws {
            try Data(json.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(name).json"), options: .atomic)
        }
        func options(_ name: String) -> [String] {
            ["-gossip-keyring", "\(directory)/\(name).json", "-gossip-keyring-poll", "0", "-gossip-label", "rotation"]
        }

        let names = ["k0", "k1", "k2"]
        for name in names { try writeKeyring(name, #"{"primary": "\#(Self.keyA)"}"#) }
        let (first, seedPort) = try await AgentProcessTests.startAgent("k0", extra: options("k0"))
        var agents = [first]
        for name in names.dropFirst() {
            agents.append(try await AgentProcessTests.startAgent(name, join: seedPort, extra: options(name)).0)
        }
        try await waitUntil("every agent to report the two others joined", timeout: .seconds(60)) {
            zip(names, agents).allSatisfy { name, agent in
                names.filter { $0 != name }.allSatisfy { agent.output.contains("event=joined member=\($0) ") }
            }
        }

        let a = try Self.fingerprint(Self.keyA), b = try Self.fingerprint(Self.keyB)
        let steps: [(json: String, fingerprints: String)] = [
            (#"{"primary": "\#(Self.keyA)", "accepted": ["\#(Self.keyB)"]}"#, "primary=\(a) accepted=\(b)"),
            (#"{"primary": "\#(Self.keyB)", "accepted": ["\#(Self.keyA)"]}"#, "primary=\(b) accepted=\(a)"),
            (#"{"primary": "\#(Self.keyB)"}"#, "primary=\(b) accepted=none"),
        ]
        for (number, step) in steps.enumerated() {
            var received: [Int] = []
            for (name, agent) in zip(names, agents) {
                received.append(try await Self.statistics(agent)["datagrams_received"] ?? 0)
                try writeKeyring(name, step.json)
                agent.send(SIGHUP)
                _ = try await agent.waitForOutput(containing: "KEYRING installed \(step.fingerprints)")
            }
            // Let gossip run under this step before the next: every agent hears 20 more datagrams.
            for (agent, before) in zip(agents, received) {
                try await waitUntil("step \(number + 1): \(agent.name) to receive more datagrams", timeout: .seconds(60),
                                    pollEvery: .milliseconds(250)) {
                    try await Self.statistics(agent)["datagrams_received"] ?? 0 >= before + 20
                }
            }
        }
        for agent in agents {
            let statistics = try await Self.statistics(agent)
            #expect(statistics["decrypt_failures"] == 0, "\(agent.name): \(statistics)")
            #expect(statistics["keyrings_installed"] == 3, "\(agent.name): \(statistics)")
            #expect(!agent.output.contains("event=dead"), "\(agent.name) declared a member dead:\n\(agent.output)")
        }

        // Only the new key gets in now: an agent with B joins, an agent with A is refused.
        try writeKeyring("late", #"["\#(Self.keyB)"]"#)
        let (late, _) = try await AgentProcessTests.startAgent("late", join: seedPort, extra: options("late"))
        try await waitUntil("every agent to report late joined", timeout: .seconds(60)) {
            agents.allSatisfy { $0.output.contains("event=joined member=late ") }
        }
        try writeKeyring("stale", #"["\#(Self.keyA)"]"#)
        let (stale, _) = try await AgentProcessTests.startAgent("stale", join: seedPort, extra: options("stale"))
        _ = try await stale.waitForOutput(containing: "JOIN-PENDING")
        // The reason arrives on standard error, read apart from standard output.
        _ = try await stale.waitForOutput(containing: "does not open with this member's gossip keyring")
        #expect(try await Self.statistics(agents[0])["decrypt_failures"] ?? 0 > 0)
        #expect(try await Self.statistics(stale)["push_pulls_refused"] ?? 0 > 0)
        #expect(!agents.contains { $0.output.contains("event=joined member=stale ") })

        for agent in agents + [late, stale] {
            #expect(await agent.stop(grace: .seconds(60)) == 0, "\(agent.name) output:\n\(agent.output)")
        }
    }

    @Test func badKeyFlagsExitTwoNamingTheProblem() async throws {
        let short = ChildProcess(name: "short-key", executable: try AgentProcessTests.agentExecutable(),
                                 arguments: ["-gossip-key", "AAAA"])
        try short.start()
        #expect(try await short.waitForExit() == 2)
        #expect(short.output.contains("-gossip-key") && short.output.contains("decodes to 3 bytes"))
        let missing = ChildProcess(name: "missing-keyring", executable: try AgentProcessTests.agentExecutable(),
                                   arguments: ["-gossip-keyring", "/nonexistent/keyring.json"])
        try missing.start()
        #expect(try await missing.waitForExit() == 2)
        #expect(missing.output.contains("\"/nonexistent/keyring.json\" does not exist"))
    }
}
