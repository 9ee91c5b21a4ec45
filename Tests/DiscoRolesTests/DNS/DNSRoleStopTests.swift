import DiscoCore
import DiscoRoles
import DiscoSystem
import DiscoTestKit
@testable import NodeRuntime
import Testing

/// `DNSRole.run` is public: a program embedding the node may run it in a task of its own and
/// cancel that task. Every way out of `run` must stop the server: its `stop()` came after
/// `cancelOnGracefulShutdown`, which rethrows the role's own `CancellationError` when that ends
/// the operation before the cancelled shutdown wait does, so the stop was skipped, the role kept
/// the server, and its UDP and TCP port stayed bound.
@Suite(.serialized) struct DNSRoleStopTests {
    @Test func runCancelledInATaskOfItsOwnClosesItsPortEveryTime() async throws {
        let configuration = try RoleTestNode.configuration(id: "s1")
        let running = try await RoleTestNode.start(configuration, roles: [])
        defer { running.removeDirectory() }
        let context = RoleContext(node: running.node, logger: Logger(label: "test", level: .warning, handler: LogfmtHandler(sink: MemoryLogSink())))
        var leaks = 0
        for _ in 0..<100 {
            // A port below the ephemeral range: one the OS picked could be taken, once freed,
            // as the source port of another test's outgoing connection before it is checked.
            let role = DNSRole(try DNSRoleConfiguration(address: "127.0.0.1:\(try FreePort.loopback())", domain: "disco.test.", ttl: .seconds(7)))
            let task = Task { try await role.run(context) }
            try await waitUntil("the role to serve", timeout: .seconds(60)) { !role.addresses.isEmpty }
            let port = DNSRoleNodeTests.port(role)
            task.cancel()
            _ = await task.result
            guard role.addresses.isEmpty else {
                leaks += 1
                continue
            }
            try await waitUntil("port \(port) to be free again", timeout: .seconds(60)) { FreePort.isFree(port) }
        }
        #expect(leaks == 0, "runs that ended with their server still listening")
        #expect(await running.stop() == nil)
    }
}
