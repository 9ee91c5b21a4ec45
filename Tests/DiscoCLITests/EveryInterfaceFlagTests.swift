import Testing
@testable import DiscoCLI
import DiscoCore
import DiscoDNSServer
import NodeRuntime

// MARK: - :PORT for the listening flags

/// `-http-addr :4001` and `-raft-addr :4002` listen on every interface, IPv6 and IPv4, as
/// rqlite's (Go's) flags do. Like `0.0.0.0`, such an address cannot be advertised: the node
/// needs `-http-adv-addr` / `-raft-adv-addr`, and says so.
@Suite struct EveryInterfaceFlagTests {
    let loader = DiscoConfigLoader(environment: { _ in nil }, readFile: { _ in nil })

    func parse(_ line: String) throws(FlagError) -> DiscodOptions {
        try DiscodOptions.parse(line.split(separator: " ").map(String.init), loader: loader)
    }

    func failure(_ line: String) -> FlagError? {
        do {
            _ = try parse(line)
            return nil
        } catch {
            return error
        }
    }

    @Test func anEmptyHostIsAcceptedForTheHTTPAndRaftAddresses() throws {
        let options = try parse("-node-id n1 -http-addr :4001 -http-adv-addr 10.1.2.3:4001 -raft-addr=:4002 -raft-adv-addr [fd00::12]:4002 data")
        #expect(options.httpAddress == PeerAddress(host: "", port: 4001))
        #expect(options.raftAddress == PeerAddress(host: "", port: 4002))
        #expect(options.httpAdvertisedAddress == PeerAddress(host: "10.1.2.3", port: 4001))
        #expect(options.raftAdvertisedAddress == PeerAddress(host: "fd00::12", port: 4002))
        let configuration = options.nodeConfiguration
        #expect(configuration.api.bindAddress.host.isEmpty)
        #expect(configuration.internode.bindAddress.host.isEmpty)
        #expect(throws: Never.self) { try configuration.validate() }
    }

    @Test func bracketedHostsAndTheIPv6WildcardAreAccepted() throws {
        let options = try parse("-node-id n1 -http-addr [10.1.2.3]:4001 -raft-addr [::]:4002 -raft-adv-addr [10.1.2.3]:4002 data")
        #expect(options.httpAddress == PeerAddress(host: "10.1.2.3", port: 4001))
        #expect(options.raftAddress == PeerAddress(host: "::", port: 4002))
        #expect(options.raftAdvertisedAddress == PeerAddress(host: "10.1.2.3", port: 4002))
    }

    /// As with 0.0.0.0: without an advertised address, the error names the flag to set.
    @Test(arguments: [
        ("-http-addr :4001 data", "http-adv-addr", "advertised HTTP address :4001 is not routable (it defaults to -http-addr); set -http-adv-addr"),
        ("-raft-addr :4002 data", "raft-adv-addr", "advertised Raft address :4002 is not routable (it defaults to -raft-addr); set -raft-adv-addr"),
        ("-http-addr : data", "http-addr", "missing port"),
        ("-http-addr :x data", "http-addr", "is not a number from 1 to 65535"),
        ("-raft-addr http://:4002 data", "raft-addr", "without http:// or https://"),
        ("-http-adv-addr :4001 data", "http-adv-addr", "has no host: an advertised address names a host"),
        ("-http-addr :4001 -http-adv-addr h:4001 -raft-addr :4001 -raft-adv-addr h:4002 data", "raft-addr",
         "-http-addr and -raft-addr must differ (both are :4001)"),
        ("-http-addr :4001 -http-adv-addr h:4001 -raft-addr 127.0.0.1:4001 data", "raft-addr", "would both listen on port 4001"),
    ])
    func refusals(line: String, flag: String, message: String) {
        let error = failure(line)
        #expect(error?.flag == flag, "\(line): \(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(line): \(error?.message ?? "accepted")")
    }

    /// `-validate` (and the start log) says what a wildcard listens on.
    @Test func theSummaryNamesWhatAWildcardCovers() throws {
        let options = try parse("-node-id n1 -http-addr :4001 -http-adv-addr 10.1.2.3:4001 -raft-addr 0.0.0.0:4002 -raft-adv-addr 10.1.2.3:4002 data")
        let summary = StartupCheck.summary(options)
        #expect(summary.contains("  http_addr=:4001 (every interface, IPv6 and IPv4)\n"), "\(summary)")
        #expect(summary.contains("  raft_addr=0.0.0.0:4002 (every IPv4 interface)\n"), "\(summary)")
        #expect(summary.contains("  http_adv_addr=10.1.2.3:4001\n"), "\(summary)")
        let plain = try parse("-node-id n1 -http-addr [::]:4001 -http-adv-addr 10.1.2.3:4001 data")
        #expect(StartupCheck.summary(plain).contains("  http_addr=[::]:4001 (every interface, IPv6 and IPv4)\n"))
        #expect(StartupCheck.summary(plain).contains("  raft_addr=localhost:4002\n"))
    }

    /// The dns role's `-dns-addr` takes `:PORT` as well.
    @Test func theDNSAddressTakesAnEmptyHost() throws {
        let every = try DNSServerConfiguration(address: ":8600")
        #expect(every.host.isEmpty && every.port == 8600)
        let anyPort = try DNSServerConfiguration(address: ":0")
        #expect(anyPort.host.isEmpty && anyPort.port == 0)
        #expect(throws: DNSSettingsError.self) { try DNSServerConfiguration(address: "http://:8600") }
        let flags = DiscodFlags()
        let parsed = try flags.flagSet.parse(["-roles", "dns", "-dns-addr", ":8600", "data"])
        #expect(flags.nodeListeners(parsed).map { "\($0.flag) \($0.address)" }.contains("dns-addr :8600"))
    }
}
