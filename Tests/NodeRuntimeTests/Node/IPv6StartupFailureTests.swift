import DiscoCore
import DiscoTestKit
import NodeRuntime
import Testing

// MARK: - Startup failures on an IPv6 internode address

/// A node whose gossip port is taken says so with the address bracketed, `[::1]:port`, as
/// `-raft-addr` is written.
@Suite struct IPv6StartupFailureTests {
    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"))
    func swimBindFailureBracketsTheIPv6Host() async throws {
        let held = try #require(IPv6Loopback.holdUDPPort())
        defer { held.close() }
        var setup = try TestNodeSetup(id: "v6", prefix: "disco-v6-swim")
        defer { setup.removeDirectory() }
        setup.configuration.internode.bindAddress = PeerAddress(host: "::1", port: held.port)
        do {
            let node = try await Node.start(setup.configuration, logger: testLogger(.critical))
            node.shutdown()
            Issue.record("the node started with UDP [::1]:\(held.port) held by the test")
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix("cannot start SWIM on UDP [::1]:\(held.port): "), "\(text)")
            #expect(!text.contains("::1:\(held.port)"), "\(text)")
        }
    }
}
