import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// disco-sidecar refuses, exit 2, a listener whose upstream it would accept itself, and an
/// upstream its `-proxy-addr` listens on, however the upstream is written: the check compared
/// the addresses as written, so `127.1`, `[::ffff:127.0.0.1]` or this machine's own interface
/// address passed and the proxy connected to itself until it ran out of descriptors. A
/// listener on `0.0.0.0` (IPv4 only) to `[::1]` on its port, which it never accepts, was refused.
@Suite struct SidecarSelfConnectionProcessTests {
    static let node = ["-node-id", "n1", "-http-addr", "127.0.0.1:4921", "-raft-addr", "127.0.0.1:4922"]

    func validate(_ flags: [String]) async throws -> ExecutableRunner.Outcome {
        let directory = try ExecutableRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await ExecutableRunner.run("disco-sidecar", ["-validate"] + Self.node + flags + ["data"], in: directory)
    }

    /// This machine's first IPv4 address other than loopback, when it has one.
    static var ownAddress: String? {
        SocketAddress.interfaceAddresses().first { !$0.isIPv6 && !$0.isLoopback }?.host
    }

    @Test(arguments: [
        ("tcp-proxy", ["-upstream", "http://127.0.0.1:9", "-tcp-proxy", "127.0.0.1:4925=127.1:4925"], "(127.1:4925 is 127.0.0.1:4925)"),
        ("tcp-proxy", ["-upstream", "http://127.0.0.1:9", "-tcp-proxy", "0.0.0.0:4925=[::ffff:127.0.0.1]:4925"], "is 127.0.0.1:4925)"),
        ("tcp-proxy", ["-upstream", "http://127.0.0.1:9", "-tcp-proxy", "[::]:4925=[0:0:0:0:0:0:0:1]:4925"], "is [::1]:4925)"),
        ("upstream", ["-proxy-addr", "127.0.0.1:4926", "-upstream", "http://127.1:4926"],
         "-upstream 127.1:4926 is an address -proxy-addr 127.0.0.1:4926 listens on itself (127.1:4926 is 127.0.0.1:4926)"),
        ("tcp-proxy", ["-upstream", "http://127.0.0.1:9", "-tcp-proxy", ":4925=127.0.0.1:4927", "-tcp-proxy", ":4927=127.1:4925"],
         "-tcp-proxy :4925=127.0.0.1:4927 -> -tcp-proxy :4927=127.1:4925 -> -tcp-proxy :4925=127.0.0.1:4927"),
    ])
    func anUpstreamThatIsTheProxysOwnListenerExitsTwo(flag: String, flags: [String], message: String) async throws {
        let outcome = try await validate(flags)
        #expect(outcome.status == 2, "stderr: \(outcome.standardError)")
        #expect(outcome.standardError.contains("-\(flag)"), "stderr: \(outcome.standardError)")
        #expect(outcome.standardError.contains(message), "stderr: \(outcome.standardError)")
    }

    @Test func thisMachinesOwnAddressIsSeen() async throws {
        guard let own = Self.ownAddress else { return }
        let outcome = try await validate(["-upstream", "http://127.0.0.1:9", "-tcp-proxy", "0.0.0.0:4925=\(own):4925"])
        #expect(outcome.status == 2, "stderr: \(outcome.standardError)")
        #expect(outcome.standardError.contains("would connect to itself"), "stderr: \(outcome.standardError)")
    }

    @Test func anIPv4ListenerToIPv6LoopbackPasses() async throws {
        let outcome = try await validate(["-upstream", "http://127.0.0.1:9", "-tcp-proxy", "0.0.0.0:4925=[::1]:4925"])
        #expect(outcome.status == 0, "stderr: \(outcome.standardError)")
    }
}
