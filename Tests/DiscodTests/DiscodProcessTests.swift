import Foundation
import Testing

/// Runs the real `discod` and `discoctl` binaries: exit statuses, messages, and that a bad
/// command line never creates the data directory.
@Suite struct DiscodProcessTests {
    func runDiscod(_ arguments: [String]) throws -> (ExecutableRunner.Outcome, dataDirectoryExists: Bool) {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try ExecutableRunner.run("discod", arguments, in: directory)
        let exists = FileManager.default.fileExists(atPath: directory.appending(path: "data").path)
        return (outcome, exists)
    }

    @Test func unknownFlagExitsTwoNamingIt() throws {
        let (outcome, exists) = try runDiscod(["-no-such-flag", "data"])
        #expect(outcome.status == 2)
        #expect(outcome.standardError.contains("discod: flag provided but not defined: -no-such-flag"))
        #expect(outcome.standardError.contains("Run 'discod -h' for usage."))
        #expect(!exists)
    }

    @Test func badDurationExitsTwoNamingTheFlag() throws {
        let (outcome, exists) = try runDiscod(["-bootstrap-expect-timeout=abc", "data"])
        #expect(outcome.status == 2)
        #expect(outcome.standardError.contains(#"invalid value "abc" for flag -bootstrap-expect-timeout: expected a duration"#))
        #expect(!exists)
    }

    @Test func badDiscoConfigExitsTwo() throws {
        let (outcome, exists) = try runDiscod(["-disco-mode=dns", #"-disco-config='{"name":"rqlite.local"}'"#, "-bootstrap-expect", "3", "data"])
        #expect(outcome.status == 2)
        #expect(outcome.standardError.contains("-disco-config"))
        #expect(outcome.standardError.contains("the shell did not remove them"))
        #expect(!exists)
    }

    @Test func validSeedCommandLineExitsZeroWithoutCreatingData() throws {
        let (outcome, exists) = try runDiscod(["-node-id", "1", "-http-addr=127.0.0.1:4001", "-raft-addr=127.0.0.1:4002",
                                               "-bootstrap-expect", "3", "-join", "http://h1:4001,http://h2:4001,http://h3:4001", "data"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.standardError.contains("msg=\"options validated\""))
        #expect(outcome.standardError.contains("node_id=1"))
        #expect(!exists)
    }

    @Test func jsonLogFormat() throws {
        let (outcome, _) = try runDiscod(["-log-format", "json", "data"])
        #expect(outcome.status == 0)
        let firstLine = String(outcome.standardError.split(separator: "\n").first ?? "")
        #expect(firstLine.hasPrefix(#"{"ts":""#))
        #expect(firstLine.contains(#""msg":"options validated""#))
    }

    @Test func helpExitsZero() throws {
        let (outcome, exists) = try runDiscod(["-h"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.hasPrefix("Usage: discod [flags] <data-dir>"))
        #expect(outcome.standardOutput.contains("\nCluster formation:\n"))
        #expect(!exists)
    }

    @Test func missingDataDirectoryExitsTwo() throws {
        let (outcome, _) = try runDiscod(["-node-id", "1"])
        #expect(outcome.status == 2)
        #expect(outcome.standardError.contains("missing required argument: data directory"))
    }

    // MARK: discoctl

    @Test func discoctlCommands() throws {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let help = try ExecutableRunner.run("discoctl", ["-h"], in: directory)
        #expect(help.status == 0)
        #expect(help.standardOutput.contains("lookup"))
        let status = try ExecutableRunner.run("discoctl", ["-addr", "localhost:4001", "status"], in: directory)
        #expect(status.status == 1)
        #expect(status.standardError.contains("discoctl status: not available yet"))
        let commandHelp = try ExecutableRunner.run("discoctl", ["lookup", "-h"], in: directory)
        #expect(commandHelp.status == 0)
        #expect(commandHelp.standardOutput.contains("-disco-mode mode"))
        let unknown = try ExecutableRunner.run("discoctl", ["frobnicate"], in: directory)
        #expect(unknown.status == 2)
        #expect(unknown.standardError.contains(#"unknown command "frobnicate""#))
        let badFlag = try ExecutableRunner.run("discoctl", ["nodes", "-nonvoter"], in: directory)
        #expect(badFlag.status == 2)
        #expect(badFlag.standardError.contains("did you mean -nonvoters?"))
    }
}
