import DiscoTestKit
import Foundation
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Testing

/// Runs the real `discod` and `discoctl` binaries: exit statuses, messages, and that a bad
/// command line never creates the data directory.
@Suite struct DiscodProcessTests {
    func runDiscod(_ arguments: [String]) async throws -> (ExecutableRunner.Outcome, dataDirectoryExists: Bool) {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try await ExecutableRunner.run("discod", arguments, in: directory)
        let exists = FileManager.default.fileExists(atPath: directory.appending(path: "data").path)
        return (outcome, exists)
    }

    @Test func unknownFlagExitsTwoNamingIt() async throws {
        let (outcome, exists) = try await runDiscod(["-no-such-flag", "data"])
        #expect(outcome.status == 2)
        #expect(outcome.standardError.contains("discod: flag provided but not defined: -no-such-flag"))
        #expect(outcome.standardError.contains("Run 'discod -h' for usage."))
        #expect(!exists)
    }

    @Test func badDurationExitsTwoNamingTheFlag() async throws {
        let (outcome, exists) = try await runDiscod(["-bootstrap-expect-timeout=abc", "data"])
        #expect(outcome.status == 2)
        #expect(outcome.standardError.contains(#"invalid value "abc" for flag -bootstrap-expect-timeout: expected a duration"#))
        #expect(!exists)
    }

    @Test func badDiscoConfigExitsTwo() async throws {
        let (outcome, exists) = try await runDiscod(["-disco-mode=dns", #"-disco-config='{"name":"rqlite.local"}'"#, "-bootstrap-expect", "3", "data"])
        #expect(outcome.status == 2)
        #expect(outcome.standardError.contains("-disco-config"))
        #expect(outcome.standardError.contains("the shell did not remove them"))
        #expect(!exists)
    }

    @Test func jsonLogFormatAndGracefulExitOnSIGTERM() async throws {
        let cluster = try DiscodCluster(name: "json-log")
        defer { Task { await cluster.shutdown() } }
        let node = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: ["-log-format", "json"])
        try await node.process.waitForOutput(containing: #""msg":"leader is 1 (this node)"#)
        let firstLine = String(node.process.output.split(separator: "\n").first ?? "")
        #expect(firstLine.hasPrefix(#"{"ts":""#))
        #expect(firstLine.contains(#""msg":"starting""#))
        #expect(await node.terminate() == 0)
        #expect(node.process.output.contains(#""msg":"stopped""#))
    }

    /// Started with a soft limit of 256 open files, discod raises it to the hard limit at once.
    @Test func raisesTheOpenFileSoftLimitToTheHardLimit() async throws {
        var limit = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        let hard = limit.rlim_max == rlim_t.max ? "unlimited" : String(limit.rlim_max)
        try #require(limit.rlim_max > 256, "the hard limit (\(hard)) leaves nothing to raise")
        let cluster = try DiscodCluster(name: "nofile")
        defer { Task { await cluster.shutdown() } }
        let ports = try DiscodCluster.ports()
        let arguments = ["-node-id", "1", "-http-addr=127.0.0.1:\(ports.http)", "-raft-addr=127.0.0.1:\(ports.raft)",
                         "-log-level", "debug", cluster.dataDirectory(for: "1")]
        let process = ChildProcess(name: "discod[nofile]", executable: "/bin/sh",
                                   arguments: ["-c", #"ulimit -Sn 256 && exec "$0" "$@""#, try DiscodProcess.executable("discod")] + arguments)
        try process.start()
        defer { Task { _ = await process.stop() } }
        let output = try await process.waitForOutput(containing: "open file limit raised from 256 to ")
        #expect(output.contains("(hard limit \(hard))"), "\(output)")
        // The kernel's view of the running process: the soft limit is the hard one.
        let pid = try #require(process.pid)
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let row = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
        let values = row.split(separator: " ").dropFirst(3).prefix(2).map(String.init)
        #expect(values.count == 2 && values[0] == values[1] && values[0] != "256", "\(row)")
    }

    @Test func helpExitsZero() async throws {
        let (outcome, exists) = try await runDiscod(["-h"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.hasPrefix("Usage: discod [flags] <data-dir>"))
        #expect(outcome.standardOutput.contains("\nCluster formation:\n"))
        #expect(outcome.standardOutput.contains("With no -join and no -disco-mode the node forms a cluster of its own"))
        // Readable in a 100-column terminal.
        let long = outcome.standardOutput.split(separator: "\n").filter { $0.count > 100 }.map(String.init)
        #expect(long.isEmpty, "\(long)")
        #expect(!exists)
    }

    @Test func missingDataDirectoryExitsTwo() async throws {
        let (outcome, _) = try await runDiscod(["-node-id", "1"])
        #expect(outcome.status == 2)
        #expect(outcome.standardError.contains("missing required argument: data directory"))
    }

    // MARK: discoctl

    @Test func discoctlCommands() async throws {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let help = try await ExecutableRunner.run("discoctl", ["-h"], in: directory)
        #expect(help.status == 0)
        #expect(help.standardOutput.contains("lookup"))
        let refusing = try FreePort.Refusing()  // nothing listens there
        let status = try await ExecutableRunner.run("discoctl", ["-addr", "127.0.0.1:\(refusing.port)", "status"], in: directory)
        #expect(status.status == 1)
        #expect(status.standardError.contains("discoctl status: cannot reach the node at http://127.0.0.1:\(refusing.port)"))
        let commandHelp = try await ExecutableRunner.run("discoctl", ["lookup", "-h"], in: directory)
        #expect(commandHelp.status == 0)
        #expect(commandHelp.standardOutput.contains("-disco-mode mode"))
        let unknown = try await ExecutableRunner.run("discoctl", ["frobnicate"], in: directory)
        #expect(unknown.status == 2)
        #expect(unknown.standardError.contains(#"unknown command "frobnicate""#))
        let badFlag = try await ExecutableRunner.run("discoctl", ["nodes", "-nonvoter"], in: directory)
        #expect(badFlag.status == 2)
        #expect(badFlag.standardError.contains("did you mean -nonvoters?"))
    }
}
