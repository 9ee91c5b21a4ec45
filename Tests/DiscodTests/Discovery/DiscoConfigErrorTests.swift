import DiscoTestKit
import Foundation
import Testing

/// A bad `-disco-config` makes `discod` exit 2 before the data directory is touched, with a
/// message that names the field and what would be right.
@Suite struct DiscoConfigErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let mode: String
        let config: String
        /// Texts the message must contain.
        let mentions: [String]
        var testDescription: String { "\(mode) \(config)" }
    }

    static let cases: [Case] = [
        Case(mode: "dns", config: #"{"name":"nodes.disco.test","nmae":"x"}"#,
             mentions: [#"disco-config for dns: unknown field "nmae""#, #"did you mean "name"?"#]),
        Case(mode: "dns", config: #"{"nameserver":"127.0.0.1:53"}"#,
             mentions: [#"disco-config for dns: missing required field "name""#, #"{"name":"disco.local"}"#]),
        Case(mode: "dns-srv", config: #"{"name":"disco.test"}"#,
             mentions: [#"disco-config for dns-srv: missing required field "service""#]),
        Case(mode: "etcd-kv", config: #"{"endpoint":["127.0.0.1:2379"]}"#,
             mentions: [#"disco-config for etcd-kv: unknown field "endpoint""#, #"did you mean "endpoints"?"#]),
        Case(mode: "consul-kv", config: #"{"adress":"127.0.0.1:8500"}"#,
             mentions: [#"disco-config for consul-kv: unknown field "adress""#, #"did you mean "address"?"#]),
        // rqlite expands an unset variable to nothing; discod names it.
        Case(mode: "etcd-kv", config: #"{"endpoints":["$DISCO_TEST_UNSET_HOST:2379"]}"#,
             mentions: ["disco-config: $DISCO_TEST_UNSET_HOST is not set"]),
    ]

    @Test(arguments: cases)
    func badDiscoConfigExitsTwoNamingTheFieldWithoutCreatingTheDataDirectory(_ bad: Case) async throws {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var arguments = ["-node-id", "1", "-disco-mode", bad.mode, "-disco-config", bad.config]
        if bad.mode.hasPrefix("dns") { arguments += ["-bootstrap-expect", "3"] }
        let outcome = try await ExecutableRunner.run("discod", arguments + ["data"], in: directory)
        #expect(outcome.status == 2)
        #expect(outcome.standardError.hasPrefix("discod: invalid value for flag -disco-config: "))
        for text in bad.mentions {
            #expect(outcome.standardError.contains(text), "stderr: \(outcome.standardError)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appending(path: "data").path))
    }
}
