import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// A standard output that cannot be written (a full disk, a reader that is gone; discoctl
/// ignores SIGPIPE) is a failure: exit 1 with the reason, not 0 with nothing printed.
@Suite struct DiscoctlOutputFailureTests {
    /// `discoctl <arguments>` with standard output on /dev/full.
    static func runToFullDisk(_ arguments: [String]) async throws -> Command.Outcome {
        let discoctl = try ExecutableRunner.productsDirectory().appending(path: "discoctl").path
        return try await Command.run("/bin/sh", ["-c", #"exec "$0" "$@" >/dev/full"#, discoctl] + arguments, timeout: .seconds(120))
    }

    @Test func aCommandWhoseOutputIsLostExitsOne() async throws {
        let cluster = try DiscodCluster(name: "ctl-stdout-full")
        defer { Task { await cluster.shutdown() } }
        let node = try await Discoctl.startSingleNode(cluster)
        let addr = ["-addr", "127.0.0.1:\(node.httpPort)"]
        for command in [["status"], ["nodes", "-json"], ["leader"], ["append", "{}"]] {
            let outcome = try await Self.runToFullDisk(command + addr)
            #expect(outcome.status == 1, "\(command): exit \(outcome.status) \(outcome.standardError)")
            #expect(outcome.standardError.contains("cannot write to standard output"), "\(command): \(outcome.standardError)")
        }
    }

    /// `keys add` prints a key that is never shown again: when it cannot be printed, exit 0 hid
    /// that the key was lost. It exits 1 and says how to get a key for the app_id again.
    @Test func aKeyThatCannotBePrintedIsReported() async throws {
        let node = try await HTTPServer.start { request in
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            return HTTPResponse(status: 201, headers: headers, bytes: Array(#"{"app_id":"app1","app_key":"k-123456789012345678"}"#.utf8))
        }
        defer { Task { await node.shutdown(gracePeriod: .zero) } }
        let outcome = try await Self.runToFullDisk(["keys", "add", "app1", "-addr", "127.0.0.1:\(node.localAddress.port)"])
        #expect(outcome.status == 1, "exit \(outcome.status) \(outcome.standardError)")
        #expect(outcome.standardError.contains("discoctl keys revoke app1"), "\(outcome.standardError)")
    }
}
