import DiscoCore
import DiscoTestKit
import Foundation
import Testing

/// How `discoctl` reads its command line and shapes its output, against one real node: global
/// flags on either side of the command, a newline after every output, `-json` as one document.
@Suite struct DiscoctlCommandLineTests {
    @Test func globalFlagsStandBeforeOrAfterTheCommand() async throws {
        let cluster = try DiscodCluster(name: "ctl-forms")
        defer { Task { await cluster.shutdown() } }
        let node = try await Discoctl.startSingleNode(cluster)
        let address = "127.0.0.1:\(node.httpPort)"
        let refusing = try FreePort.Refusing()  // nothing listens there

        let forms: [[String]] = [
            ["-addr", address, "leader", "-json"],
            ["leader", "-addr", address, "-json"],
            ["leader", "-json", "-addr", address],
            ["leader", "--addr=http://\(address)", "-timeout", "5s", "-format", "json"],
            ["-timeout", "5s", "leader", "-json", "-addr", address],
            // A value after the command wins over one before it.
            ["-addr", "127.0.0.1:\(refusing.port)", "leader", "-addr", address, "-json"],
        ]
        for form in forms {
            let outcome = try await Discoctl.run(form)
            #expect(outcome.status == 0, "\(form): \(outcome)")
            #expect(Discoctl.json(outcome)?["id"]?.stringValue == "1", "\(form): \(outcome)")
        }
        let before = try await Discoctl.run(["-addr", address, "-addr", "127.0.0.1:\(refusing.port)", "status"])
        #expect(before.status == 1 && before.standardError.contains("127.0.0.1:\(refusing.port)"), "\(before)")

        // Flags between and after a command's arguments.
        let appended = try await Discoctl.run(["events", "append", "-addr", address, #"{"form":"between"}"#, "-json"])
        #expect(Discoctl.json(appended)?["seq"]?.numberValue?.uint64Value == 1, "\(appended)")
        let negative = try await Discoctl.run(["append", "-addr", address, "--", "-5"])
        #expect(negative.status == 0 && negative.standardOutput.hasPrefix("appended event #2 "), "\(negative)")
        #expect(try await node.eventData() == [#"{"form":"between"}"#, "-5"])
        let remove = try await Discoctl.run(["remove", "9", "-addr", address])
        #expect(remove.status == 1 && remove.standardError.contains("node 9 is not a member"), "\(remove)")

        // A global flag's bad value after the command is reported like one before it.
        let badTimeout = try await Discoctl.run(["status", "-addr", address, "-timeout", "soon"])
        #expect(badTimeout.status == 2 && badTimeout.standardError.contains(#"invalid value "soon" for flag -timeout"#), "\(badTimeout)")
        // A command's own flag before the command says where it goes.
        let misplaced = try await Discoctl.run(["-addr", address, "-json", "status"])
        #expect(misplaced.status == 2, "\(misplaced)")
        #expect(misplaced.standardError.contains("-json is a flag of the command, not a global flag: write it after the command"),
                "\(misplaced)")
    }

    @Test func everyOutputEndsWithANewlineAndJSONIsOneDocument() async throws {
        let cluster = try DiscodCluster(name: "ctl-newline")
        defer { Task { await cluster.shutdown() } }
        let node = try await Discoctl.startSingleNode(cluster)
        #expect(try await node.appendEvent(#"{"first":true}"#) == 1)
        #expect(try await node.appendEvent("[2]") == 2)

        let commands: [[String]] = [
            ["status"], ["nodes"], ["nodes", "-nonvoters"], ["leader"], ["events"], ["events", "-since", "1"],
            ["events", "-limit", "1"], ["append", "{}"], ["events", "append", "3"],
        ]
        for command in commands {
            for format in [[], ["-json"], ["-format", "json"]] {
                let outcome = try await Discoctl.run(node, command + format)
                #expect(outcome.status == 0, "\(command + format): \(outcome)")
                #expect(outcome.standardOutput.hasSuffix("\n"), "\(command + format) ends without a newline: \(outcome)")
                guard !format.isEmpty else { continue }
                // One JSON document on one line: the whole output parses as one value.
                #expect(outcome.standardOutput.filter { $0 == "\n" }.count == 1, "\(command + format): \(outcome)")
                #expect((try? JSONValue.parse(outcome.standardOutput)) != nil, "\(command + format) is not one JSON document: \(outcome)")
            }
        }
        // 2 events, then 3 by `append {}` and 3 by `events append 3`.
        let events = try await Discoctl.run(node, ["events", "-json"])
        #expect(Discoctl.json(events)?.arrayValue?.count == 8, "\(events)")
        let lines = try await Discoctl.run(node, ["events", "-format", "jsonl"])
        #expect(lines.standardOutput.hasSuffix("\n"))
        #expect(Discoctl.lines(lines).compactMap { try? JSONValue.parse($0)["seq"]?.numberValue?.uint64Value } == (1...8).map { UInt64($0) }, "\(lines)")
        // An empty answer prints nothing on standard output and says so on standard error.
        let none = try await Discoctl.run(node, ["events", "-since", "8"])
        #expect(none.status == 0 && none.standardOutput.isEmpty && none.standardError == "(no events after #8)\n", "\(none)")
        let noneJSON = try await Discoctl.run(node, ["events", "-since", "8", "-json"])
        #expect(noneJSON.standardOutput == "[]\n", "\(noneJSON)")
    }

    @Test func helpNamesTheGlobalFlagsAndWhatEachCommandPrints() async throws {
        let help = try await Discoctl.run(["-h"])
        #expect(help.status == 0 && help.standardOutput.hasSuffix("\n"))
        #expect(help.standardOutput.contains("Usage: discoctl <command> [flags] [arguments]"), "\(help)")
        #expect(help.standardOutput.contains("Global flags (before or after the command):"), "\(help)")
        #expect(help.standardOutput.contains("  nodes    The members with their addresses, voter, leader and reachability (-nonvoters: all)"),
                "\(help)")
        for command in ["status", "nodes", "leader", "events", "append", "remove", "lookup"] {
            let outcome = try await Discoctl.run([command, "-h"])
            #expect(outcome.status == 0, "\(command): \(outcome)")
            #expect(outcome.standardOutput.hasPrefix("Usage: discoctl \(command)"), "\(command): \(outcome)")
            for flag in ["-addr host:port", "-timeout duration", "-user name", "-password password", "-json", "-format text|json"] {
                #expect(outcome.standardOutput.contains("\n  \(flag)"), "\(command) -h lacks \(flag): \(outcome)")
            }
            // Help lines stay readable in a 100-column terminal.
            let long = outcome.standardOutput.split(separator: "\n").filter { $0.count > 100 }.map(String.init)
            #expect(long.isEmpty, "\(command) -h has long lines: \(long)")
        }
        let nodes = try await Discoctl.run(["nodes", "-h"])
        #expect(nodes.standardOutput.contains("Only voters are listed unless\n-nonvoters is given"), "\(nodes)")
        let helpNodes = try await Discoctl.run(["help", "nodes"])
        #expect(helpNodes.status == 0 && helpNodes.standardOutput == nodes.standardOutput, "\(helpNodes)")
        let helpAlone = try await Discoctl.run(["help"])
        #expect(helpAlone.status == 0 && helpAlone.standardOutput == help.standardOutput, "\(helpAlone)")
        #expect(help.standardOutput.split(separator: "\n").filter { $0.count > 100 }.isEmpty, "\(help)")
        // Every summary starts in the same column, the long command names' too.
        #expect(help.standardOutput.contains("\n  transfer-leadership\n           Moves leadership"), "\(help)")
        #expect(help.standardOutput.contains("\n  hash-password\n           Reads a password"), "\(help)")
    }
}
