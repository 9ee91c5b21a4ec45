import DiscoCore
import DiscoNet
import DiscoSWIM
import DiscoSystem
import DiscoTestKit
import Testing

// MARK: - Members on every interface

/// A node started with `-raft-addr :4002` (or `[::]:4002`) gossips on a dual-stack UDP socket:
/// it must probe and answer IPv4 members from it, see them at their IPv4 addresses, and it
/// needs an advertised host like any wildcard.
@Suite struct EveryInterfaceShellTests {
    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"),
          arguments: ["", "::"])
    func aMemberOnEveryInterfaceGossipsWithIPv4Members(bindHost: String) async throws {
        try await withShells { group in
            let ipv4 = try await group.start("v4")
            let everywhere = try await group.start("every") { configuration in
                configuration.bindHost = bindHost
                configuration.advertiseHost = "127.0.0.1"
            }
            #expect(everywhere.address.host == "127.0.0.1")
            try await everywhere.join(seeds: [ipv4.address])
            try await waitForConvergence([ipv4, everywhere])
            // Probes both ways: the dual-stack member sends to an IPv4 address and hears from it.
            try await waitUntil("both members to have probed each other") {
                let heardByIPv4 = await ipv4.statistics.datagramsReceived
                let heardByEvery = await everywhere.statistics.datagramsReceived
                return heardByIPv4 > 2 && heardByEvery > 2
            }
            #expect(await everywhere.member(ipv4.id)?.address == ipv4.address)
            #expect(await ipv4.member(everywhere.id)?.address == everywhere.address)
        }
    }

    /// Every spelling of every interface needs an advertised host; none can be advertised.
    @Test(arguments: ["", "0.0.0.0", "::", "[::]", "0:0::0", "::0"])
    func aWildcardBindNeedsAnAdvertisedHost(host: String) async throws {
        var configuration = SWIM.Shell.Configuration(id: "w", bindHost: host)
        configuration.logger = Logger(label: "swim", level: .error, handler: LogfmtHandler())
        let unadvertised = await #expect(throws: SWIM.ConfigurationError.self) { _ = try await SWIM.Shell.start(configuration) }
        #expect(unadvertised?.field == "advertiseHost", "\(host)")
        configuration = SWIM.Shell.Configuration(id: "w", bindHost: "127.0.0.1", advertiseHost: host)
        configuration.logger = Logger(label: "swim", level: .error, handler: LogfmtHandler())
        let advertised = await #expect(throws: SWIM.ConfigurationError.self) { _ = try await SWIM.Shell.start(configuration) }
        #expect(advertised?.field == "advertiseHost", "\(host)")
    }
}
