import DiscoCore
import DiscoLifecycle
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing
@testable import NodeRuntime

// MARK: - Cluster changes run to their end when their client leaves

/// The server cancels the handler of a request whose client leaves. A membership change is made
/// of steps (a Raft change, then the member record), and must not stop between them: its route
/// runs the handler in a task of its own. The test role's two routes wait on a gate the test
/// opens once the client has gone: one runs to completion, the other is cancelled.
@Suite struct RunsToCompletionTests {
    /// A role serving `/change/whole` (runs to completion) and `/change/cancellable`, whose
    /// handlers wait until `gate` opens and record how they ended.
    final class GatedRole: Role {
        let name = "gated"
        let gate = Latch()
        let ended = Mutex<[String: String]>([:])
        let started = Mutex<Set<String>>([])

        func run(_ context: RoleContext) async throws {
            try await gracefulShutdown()
        }

        var routes: [APIRoute] {
            [route("/change/whole", runsToCompletion: true), route("/change/cancellable", runsToCompletion: false)]
        }

        private func route(_ path: String, runsToCompletion: Bool) -> APIRoute {
            APIRoute(["POST"], path, permission: .status, runsToCompletion: runsToCompletion) { [self] _ in
                started.withLock { _ = $0.insert(path) }
                await gate.wait()
                guard !Task.isCancelled else {
                    ended.withLock { $0[path] = "cancelled" }
                    return HTTPResponse(status: 503, bytes: [])
                }
                ended.withLock { $0[path] = "completed" }
                return HTTPResponse(status: 200, bytes: [])
            }
        }
    }

    @Test func aChangeRunsToItsEndWhenItsClientLeavesAndOtherRequestsAreCancelled() async throws {
        let setup = try TestNodeSetup(id: "rtc1", prefix: "disco-runs-to-completion")
        defer { setup.removeDirectory() }
        let role = GatedRole()
        let running = try await RunningNode.start(setup.configuration, roles: [role])
        let address = try #require(try SocketAddress.resolve(host: "127.0.0.1", port: setup.httpPort).first)
        for path in ["/change/whole", "/change/cancellable"] {
            do {
                let client = try RawSocketClient(connectTo: address)
                try client.send("POST \(path) HTTP/1.1\r\nHost: node\r\nContent-Length: 0\r\n\r\n")
                try await waitUntil("\(path) to start") { role.started.withLock { $0.contains(path) } }
                // Released at the end of this scope: closed.
            }
        }
        try await waitUntil("the cancellable request to be cancelled", timeout: .seconds(60)) {
            role.ended.withLock { $0["/change/cancellable"] } == "cancelled"
        }
        // The whole change is still waiting for its gate, not cancelled with its request.
        #expect(role.ended.withLock { $0["/change/whole"] } == nil)
        role.gate.open()
        try await waitUntil("the change to finish", timeout: .seconds(60)) { role.ended.withLock { $0["/change/whole"] } != nil }
        #expect(role.ended.withLock { $0["/change/whole"] } == "completed")
        #expect(await running.stop() == nil)
    }

    /// The node's own membership and leadership changes are such routes; reads are not.
    @Test func membershipAndLeadershipChangesRunToCompletion() {
        let flagged = Set(Node.builtInRoutes.filter(\.runsToCompletion).map(\.path))
        #expect(flagged == ["/join", "/remove", "/leader/transfer"])
    }
}
