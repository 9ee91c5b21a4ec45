import DiscoCore
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - Members this one cannot send to

@Suite struct SendFailureShellTests {
    /// A member bound to 127.0.0.1 (IPv4 only) learns of a member at [::1]: its socket cannot
    /// send there, so it takes that member for dead. It says so as a warning naming the member,
    /// its bound address and the mismatch of address families, not only at debug level, with a
    /// hint that fits every program running a member.
    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"))
    func aMemberOfAnotherAddressFamilyIsNamedInAWarning() async throws {
        try await withShells { group in
            let logs = RecordingLogHandler()
            let v6 = try await group.start("v6", logLevel: .critical) { $0.bindHost = "::1" }
            let v4 = try await group.start("v4") { configuration in
                configuration.logger = Logger(label: "swim", level: .info, handler: logs)
            }
            // Push-pull over TCP works across families (a new socket per connection); gossip does not.
            try await v4.join(seeds: [v6.address])
            try await waitUntil("a warning that v6 cannot be sent to", timeout: .seconds(60)) {
                !logs.records(at: .warning, containing: "cannot send SWIM datagrams to a member").isEmpty
            }
            let line = try #require(logs.records(at: .warning, containing: "cannot send SWIM datagrams to a member").first)
            #expect(line.metadata["to"]?.description == "\(v6.address)")
            #expect(line.metadata["bound"]?.description == "\(v4.address)")
            #expect(line.message.contains("its address is IPv6 but this member's socket is bound to an IPv4 address"), "\(line.message)")
            // The hint names the flag, not a program: discod and disco-sidecar both run this shell.
            #expect(line.message.contains("bind every interface, IPv6 and IPv4 (-raft-addr :PORT)"), "\(line.message)")
            #expect(!line.message.contains("discod"), "\(line.message)")
        }
    }
}
