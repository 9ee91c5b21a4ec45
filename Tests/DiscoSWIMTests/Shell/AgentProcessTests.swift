import DiscoTestKit
import Foundation
import Testing

struct AgentTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Real processes: disco-swim-agent on loopback

/// Serialized: five agent processes at a time are plenty for a two-core machine.
@Suite(.serialized) struct AgentProcessTests {
    /// The built agent, next to the test bundle (`swift build --build-tests` builds it).
    static func agentExecutable() throws -> String {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            let url = URL(fileURLWithPath: first)
            candidates += [url.deletingLastPathComponent(), url.deletingLastPathComponent().deletingLastPathComponent()]
        }
        candidates += [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
        for directory in candidates {
            let path = directory.appending(path: "disco-swim-agent").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw AgentTestError("disco-swim-agent not found next to the test bundle (looked in "
                                   + "\(candidates.map(\.path))); build it with swift build --build-tests")
    }

    /// Starts an agent named `name` and waits for its READY line; returns it with its port.
    static func startAgent(_ name: String, join seed: UInt16? = nil, extra: [String] = []) async throws -> (ChildProcess, UInt16) {
        var arguments = ["-name", name, "-bind", "127.0.0.1:0"] + extra
        if let seed { arguments += ["-join", "127.0.0.1:\(seed)"] }
        let agent = ChildProcess(name: name, executable: try agentExecutable(), arguments: arguments)
        try agent.start()
        let ready = try await agent.waitForOutput(containing: "READY")
        guard let field = ready.split(separator: " ").first(where: { $0.hasPrefix("port=") }),
            let port = UInt16(field.dropFirst("port=".count))
        else { throw AgentTestError("\(name) printed no port in \(ready.debugDescription)") }
        return (agent, port)
    }

    @Test func agentsConvergeAndEverySurvivorReportsAKilledAgentDead() async throws {
        let names = (0..<5).map { "p\($0)" }
        let (first, seedPort) = try await Self.startAgent(names[0])
        var agents = [first]
        for name in names.dropFirst() { agents.append(try await Self.startAgent(name, join: seedPort).0) }

        try await waitUntil("every agent to report the four others joined", timeout: .seconds(60)) {
            zip(names, agents).allSatisfy { name, agent in
                names.filter { $0 != name }.allSatisfy { agent.output.contains("event=joined member=\($0) ") }
            }
        }

        // kill -9 one agent: every survivor must declare it dead.
        let victim = agents[4]
        victim.send(SIGKILL)
        #expect(try await victim.waitForExit() == 128 + SIGKILL)
        let survivors = Array(agents.prefix(4))
        try await waitUntil("every survivor to report p4 dead", timeout: .seconds(60)) {
            survivors.allSatisfy { $0.output.contains("event=dead member=p4 ") }
        }

        // SIGTERM another: it leaves gracefully, exits 0, and the rest report it left.
        let leaver = survivors[3]
        leaver.send(SIGTERM)
        #expect(try await leaver.waitForExit() == 0)
        #expect(leaver.output.contains("LEFT"))
        let stayers = Array(survivors.prefix(3))
        try await waitUntil("the remaining agents to report p3 left", timeout: .seconds(60)) {
            stayers.allSatisfy { $0.output.contains("event=left member=p3 ") }
        }
        for agent in stayers { #expect(await agent.stop(grace: .seconds(60)) == 0, "\(agent.name) output:\n\(agent.output)") }
    }

    @Test func badFlagsExitTwoNamingTheFlag() async throws {
        let agent = ChildProcess(name: "bad-agent", executable: try Self.agentExecutable(), arguments: ["-bind", "nowhere"])
        try agent.start()
        #expect(try await agent.waitForExit() == 2)
        #expect(agent.output.contains("-bind"))
        #expect(agent.output.contains("host:port"))
    }
}
