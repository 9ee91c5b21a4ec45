import DiscoCore
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - Bind failures on an IPv6 address

/// A shell that cannot bind its port names the address as operators write it: `[::1]:port`,
/// never `::1:port`, whose port cannot be told from the address.
@Suite struct IPv6BindFailureTests {
    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"))
    func udpBindFailureBracketsTheIPv6Host() async throws {
        let held = try #require(IPv6Loopback.holdUDPPort())
        defer { held.close() }
        let port = held.port
        let configuration = SWIM.Shell.Configuration(id: "v6", bindHost: "::1", port: port, settings: .testing)
        do {
            let shell = try await SWIM.Shell.start(configuration)
            await shell.shutdown()
            Issue.record("the shell bound [::1]:\(port), which a socket of the test holds")
        } catch {
            let text = "\(error)"
            #expect(text.contains("cannot bind UDP [::1]:\(port):"), "\(text)")
            #expect(!text.contains("::1:\(port)"), "\(text)")
        }
    }

    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"))
    func pushPullBindFailureBracketsTheIPv6Host() async throws {
        let held = try await TCPListener.bind(host: "::1")
        defer { held.close() }
        let port = held.localAddress.port
        let configuration = SWIM.Shell.Configuration(id: "v6", bindHost: "::1", port: port, settings: .testing)
        do {
            let shell = try await SWIM.Shell.start(configuration)
            await shell.shutdown()
            Issue.record("the shell bound TCP [::1]:\(port), which a listener of the test holds")
        } catch {
            let text = "\(error)"
            #expect(text.contains("cannot bind TCP [::1]:\(port) for push-pull:"), "\(text)")
            #expect(!text.contains("::1:\(port)"), "\(text)")
        }
    }
}
