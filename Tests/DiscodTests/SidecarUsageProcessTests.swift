import DiscoTestKit
import Foundation
import Testing

/// disco-sidecar parses discod's flags under its own name: what it prints about its command line
/// names the program that was run. Without a data directory it said
/// "usage: discod [flags] <data-dir>", and its help said discod gives up joining.
@Suite struct SidecarUsageProcessTests {
    func runSidecar(_ arguments: [String]) async throws -> ExecutableRunner.Outcome {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await ExecutableRunner.run("disco-sidecar", arguments, in: directory)
    }

    @Test func missingDataDirectoryNamesDiscoSidecar() async throws {
        let outcome = try await runSidecar(["-node-id", "1", "-upstream", "http://127.0.0.1:9"])
        #expect(outcome.status == 2)
        #expect(outcome.standardError.contains("disco-sidecar: missing required argument: data directory "
            + "(usage: disco-sidecar [flags] <data-dir>)"), "stderr: \(outcome.standardError)")
        #expect(outcome.standardError.contains("Run 'disco-sidecar -h' for usage."), "stderr: \(outcome.standardError)")
        #expect(!outcome.standardError.contains("discod"), "stderr: \(outcome.standardError)")
    }

    @Test func unknownFlagNamesDiscoSidecar() async throws {
        let outcome = try await runSidecar(["-no-such-flag", "data"])
        #expect(outcome.status == 2)
        #expect(outcome.standardError.contains("disco-sidecar: flag provided but not defined: -no-such-flag"), "stderr: \(outcome.standardError)")
        #expect(!outcome.standardError.contains("discod"), "stderr: \(outcome.standardError)")
    }

    /// The help names discod only to say that every discod flag is accepted.
    @Test func helpNamesDiscoSidecar() async throws {
        let outcome = try await runSidecar(["-h"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.hasPrefix("Usage: disco-sidecar [flags] <data-dir>"))
        #expect(outcome.standardOutput.contains("before disco-sidecar gives up and exits 1"), "\(outcome.standardOutput)")
        let naming = outcome.standardOutput.split(separator: "\n").filter { $0.contains("discod") }.map(String.init)
        #expect(naming == ["Runs a Disco node (every discod flag) with a proxy in front of the local service: reads go to"], "\(naming)")
    }
}
