import DiscoCore
import DiscoTestKit
import Foundation
import Testing

/// `discoctl` without a node: an unreachable address exits 1 naming it; bad usage exits 2.
@Suite struct DiscoctlUsageTests {
    @Test(arguments: [["status"], ["nodes"], ["leader"], ["events"], ["remove", "2"], ["events", "append", "{}"], ["hot", "status"],
                      ["hot", "move", "-to", "n2"]])
    func unreachableNodeExitsOneNamingTheAddress(_ command: [String]) async throws {
        let refusing = try FreePort.Refusing()  // nothing listens there
        let outcome = try await Discoctl.run(["-addr", "127.0.0.1:\(refusing.port)", "-timeout", "5s"] + command)
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.standardError.contains("cannot reach the node at http://127.0.0.1:\(refusing.port)"), "\(outcome)")
        #expect(outcome.standardError.contains("check that discod is running there"), "\(outcome)")
        #expect(outcome.standardOutput.isEmpty)
    }

    @Test(arguments: [
        (["remove"], "discoctl remove: missing the ID of the node to remove"),
        (["remove", "1", "2"], #"unexpected argument "2" after the node ID"#),
        (["status", "extra"], #"discoctl status: unexpected argument "extra""#),
        (["events", "-limit", "x"], #"invalid value "x" for flag -limit"#),
        (["events", "-wait", "2m"], "-wait must be more than 0s and at most 60s"),
        (["events", "something"], #"unexpected argument "something""#),
        (["events", "append", "{bad"], "discoctl append: the event is not valid JSON"),
        (["append"], "missing the event"),
        (["nodes", "-format", "yaml"], #"invalid value "yaml" for flag -format: expected text or json"#),
        (["-addr", "no port", "status"], "-addr"),
        // A zero or negative -timeout was sent, and any request failed with "the node accepted
        // the connection but did not answer in time" (exit 1), even with nothing listening.
        (["-timeout", "0s", "status"], "-timeout must be more than 0s"),
        (["status", "-timeout", "-1s"], "-timeout must be more than 0s"),
        (["status", "-addr", "no port"], "-addr"),
        // A list of nodes was read as one IPv6 address: "IPv6 addresses must be bracketed".
        (["-addr", "a:1,b:2", "status"], #"invalid value "a:1,b:2" for flag -addr: takes one address (host:port), not a list"#),
        (["remove", "2", "-addr", "http://a:1,b:2"], #"for flag -addr: takes one address (host:port), not a list"#),
        (["events", "-follow", "-json"], "use -format jsonl"),
        (["status", "-json", "-format", "text"], "-json and -format text ask for different output"),
        (["status", "-format", "jsonl"], #"invalid value "jsonl" for flag -format: expected text or json"#),
        (["status", "-user", "alice"], "-user alice needs a password"),
        (["-password", "secret", "status"], "-password is given but no user"),
        (["status", "-user", "a:b", "-password", "x"], "contains ':'"),
        (["stauts"], #"unknown command "stauts""#),
        (["append", "-5"], "write -- before arguments that start with -"),
        (["append", #"{"n":9007199254740993}"#], "the event cannot be appended: the integer 9007199254740993 is beyond"),
        (["hot"], "discoctl hot: missing the action: status or move"),
        (["hot", "move"], "hot move needs -to ID"),
        (["hot", "move", "-to", "a b"], #"-to "a b" is not a valid node ID"#),
        (["hot", "status", "-to", "n2"], "-to is for hot move"),
        (["hot", "promote"], #"unknown action "promote"; use status or move"#),
        (["hot", "move", "n2"], #"unexpected argument "n2" after move; name the target with -to ID"#),
        // An app_id the node never accepts: sent as it was, a space was reported as "the node sent
        // the request on to the leader at …/keys/a b, which cannot be reached" (exit 1), and '?'
        // as the node's own refusal of a query (exit 1).
        (["keys", "revoke", "a b"], #"keys revoke: "a b" is not an app_id"#),
        (["keys", "revoke", "a?b"], #"keys revoke: "a?b" is not an app_id"#),
        (["keys", "revoke", "a#b"], #"keys revoke: "a#b" is not an app_id"#),
        (["keys", "revoke", "a%62"], #"keys revoke: "a%62" is not an app_id"#),
        (["keys", "add", "a/b"], #"keys add: "a/b" is not an app_id"#),
        // A cost flag of the other scheme was ignored: -ln 17 (meant for scrypt) printed a
        // PBKDF2 hash, and -ln 100 passed unchecked.
        (["hash-password", "-ln", "17"], "-ln is for -scheme scrypt"),
        (["hash-password", "-ln", "100"], "-ln is for -scheme scrypt"),
        (["hash-password", "-scheme", "scrypt", "-iterations", "5"], "-iterations is for -scheme pbkdf2-sha256"),
    ])
    func badUsageExitsTwo(_ arguments: [String], _ message: String) async throws {
        // A port nobody listens on: usage errors must be reported before any request.
        let refusing = try FreePort.Refusing()
        let addressed = arguments.contains("-addr") ? arguments : ["-addr", "127.0.0.1:\(refusing.port)"] + arguments
        let outcome = try await Discoctl.run(addressed)
        #expect(outcome.status == 2, "\(outcome)")
        #expect(outcome.standardError.contains(message), "\(outcome)")
        #expect(outcome.standardError.contains("-h' for usage."), "\(outcome)")
    }

    @Test func helpListsTheCommands() async throws {
        let help = try await Discoctl.run(["-h"])
        #expect(help.status == 0)
        for command in ["status", "nodes", "leader", "events", "append", "remove", "hot", "lookup"] {
            #expect(help.standardOutput.contains("\n  \(command) "), "\(command): \(help)")
        }
        let events = try await Discoctl.run(["events", "-h"])
        #expect(events.status == 0)
        #expect(events.standardOutput.contains("-follow"))
        #expect(events.standardOutput.contains("discoctl events append '<json>' [flags]"))
        let hot = try await Discoctl.run(["hot", "-h"])
        #expect(hot.status == 0)
        #expect(hot.standardOutput.contains("discoctl hot status [flags] | hot move -to ID [flags]"), "\(hot)")
        #expect(hot.standardOutput.contains("-to ID"), "\(hot)")
        #expect(hot.standardOutput.hasSuffix("\n"))
    }
}
