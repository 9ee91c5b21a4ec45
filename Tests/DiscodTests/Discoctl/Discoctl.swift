import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Running discoctl against real nodes

/// Runs the built `discoctl` as a process.
enum Discoctl {
    /// `discoctl -addr <node> <arguments>`.
    static func run(_ node: DiscodProcess, _ arguments: [String]) async throws -> ExecutableRunner.Outcome {
        try await run(["-addr", "127.0.0.1:\(node.httpPort)"] + arguments)
    }

    /// `discoctl <arguments>` in a fresh temporary directory, with `environment` added and `input`
    /// on standard input.
    static func run(_ arguments: [String], environment: [String: String] = [:], input: String? = nil) async throws -> ExecutableRunner.Outcome {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await ExecutableRunner.run("discoctl", arguments, in: directory, environment: environment, input: input)
    }

    /// Starts `discod -node-id 1 …`, which forms a single-node cluster by itself, and waits until
    /// it leads and its cluster is initialized.
    static func startSingleNode(_ cluster: DiscodCluster) async throws -> DiscodProcess {
        let node = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: [])
        try await DiscodCluster.waitForLeader([node])
        // A leader is known a moment before the cluster's initialize entry (name, epoch) applies.
        try await waitUntil("the cluster to be initialized", timeout: .seconds(30), pollEvery: .milliseconds(50)) {
            (try? await node.status())?["cluster"]?["epoch"]?.isNull == false
        }
        return node
    }

    /// Standard output parsed as one JSON value; records an issue when it does not parse.
    static func json(_ outcome: ExecutableRunner.Outcome, sourceLocation: SourceLocation = #_sourceLocation) -> JSONValue? {
        do {
            return try JSONValue.parse(outcome.standardOutput)
        } catch {
            Issue.record("discoctl printed no JSON (\(error)): \(outcome.standardOutput) \(outcome.standardError)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// The non-empty lines of standard output.
    static func lines(_ outcome: ExecutableRunner.Outcome) -> [String] {
        outcome.standardOutput.split(separator: "\n").map(String.init)
    }
}

extension ExecutableRunner.Outcome: CustomStringConvertible {
    var description: String { "exit \(status)\nstdout: \(standardOutput)\nstderr: \(standardError)" }
}
