import DiscoCore
import DiscoRoles
import DiscoTestKit
import NodeRuntime
import Testing

// MARK: - The dns role on a taken IPv6 address

/// A dns role that cannot bind `-dns-addr` stops the node with the address as it was written,
/// `[::1]:port`, never `::1:port`.
@Suite struct DNSRoleIPv6BindFailureTests {
    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"))
    func bindFailureBracketsTheIPv6Host() async throws {
        let held = try #require(IPv6Loopback.holdUDPPort())
        defer { held.close() }
        let role = DNSRole(try DNSRoleConfiguration(address: "[::1]:\(held.port)", domain: "disco.test."))
        let running = try await RoleTestNode.start(try RoleTestNode.configuration(id: "v6"), roles: [role])
        defer { running.removeDirectory() }
        let failure = await running.outcome()
        let text = failure.map { "\($0)" } ?? "no failure"
        #expect(text.hasPrefix("role dns failed: the dns role cannot serve on -dns-addr [::1]:\(held.port): "), "\(text)")
        #expect(!text.contains("::1:\(held.port)"), "\(text)")
    }
}
