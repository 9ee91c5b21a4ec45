import DiscoTestKit
import Foundation
import Testing

/// disco-sidecar keeps Go's rule for the node's flags (the last value wins: rqlite's command
/// lines rely on it) and for the repeatable proxy flags, but refuses a second occurrence of any
/// other proxy or hot/cold flag: a second `-proxy-config` silently dropped the first.
@Suite struct SidecarRepeatedFlagsProcessTests {
    static let node = ["-node-id", "n1", "-http-addr", "127.0.0.1:4911", "-raft-addr", "127.0.0.1:4912"]

    func validate(_ flags: [String]) async throws -> ExecutableRunner.Outcome {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try await ExecutableRunner.run("disco-sidecar", ["-validate"] + Self.node + flags + ["data"], in: directory)
        #expect(!FileManager.default.fileExists(atPath: directory.appending(path: "data").path))
        return outcome
    }

    @Test(arguments: [
        ("proxy-config", ["-upstream", "http://127.0.0.1:9", "-proxy-addr", "127.0.0.1:4913",
                          "-proxy-config", #"{"connect_timeout":"1s"}"#, "-proxy-config", #"{"read_timeout":"9s"}"#]),
        ("upstream", ["-proxy-addr", "127.0.0.1:4913", "-upstream", "http://127.0.0.1:9", "-upstream=http://127.0.0.1:10"]),
        ("proxy-addr", ["-upstream", "http://127.0.0.1:9", "-proxy-addr", "127.0.0.1:4913", "--proxy-addr", "127.0.0.1:4914"]),
        ("api-key-methods", ["-upstream", "http://127.0.0.1:9", "-api-keys", "-api-key-methods", "POST", "-api-key-methods", "GET"]),
        ("hot-cold-group", ["-upstream", "http://127.0.0.1:9", "-proxy-addr", "127.0.0.1:4913", "-hot-cold",
                            "-hot-cold-group", "a", "-hot-cold-group", "b"]),
    ])
    func aProxyFlagGivenTwiceExitsTwoNamingIt(flag: String, flags: [String]) async throws {
        let outcome = try await validate(flags)
        #expect(outcome.status == 2, "stderr: \(outcome.standardError)")
        #expect(outcome.standardError.contains("flag -\(flag) is given twice; it may be given once"), "stderr: \(outcome.standardError)")
    }

    /// The node's flags (last value wins) and -limit-req and -tcp-proxy (each adds one) repeat.
    @Test func nodeFlagsAndRepeatableProxyFlagsMayRepeat() async throws {
        let outcome = try await validate([
            "-join-interval", "1s", "-join-interval", "2s", "-upstream", "http://127.0.0.1:9", "-proxy-addr", "127.0.0.1:4913",
            "-limit-req", "rate=10r/s", "-limit-req", "rate=5r/s key=header:x-user zone=users",
            "-tcp-proxy", ":4915=127.0.0.1:9", "-tcp-proxy", ":4916=127.0.0.1:10",
        ])
        #expect(outcome.status == 0, "stderr: \(outcome.standardError)")
        #expect(outcome.standardOutput.hasPrefix("disco-sidecar: configuration is valid"), "stdout: \(outcome.standardOutput)")
    }
}
