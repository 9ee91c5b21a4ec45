import DNSServerCore
import Testing
@testable import DiscoCLI
import DiscoCore
import DiscoDNSMessage
import DiscoDNSServer
import DiscoRoles
import NodeRuntime

@Suite struct RoleOptionsTests {
    let loader = DiscoConfigLoader(environment: { _ in nil }, readFile: { _ in nil })

    func parse(_ flags: [String]) throws(FlagError) -> DiscodOptions {
        try DiscodOptions.parse(["-node-id", "n1"] + flags + ["data"], loader: loader)
    }

    /// What discod refuses (exit 2): the parse, then the start-up check.
    func failure(_ flags: [String]) -> FlagError? {
        do {
            try StartupCheck.check(try parse(flags))
            return nil
        } catch {
            return error
        }
    }

    @Test func rolesRequiresAndBootstrapNeedsReachTheConfiguration() throws {
        let options = try parse(["-roles", "host, dns,web,host", "-requires", "dns", "-bootstrap-needs", "dns,web",
                                 "-dns-addr", "127.0.0.1:5353", "-dns-domain", "Cluster.Example.", "-dns-ttl", "30s"])
        #expect(options.roles.performs == ["dns", "host", "web"])
        #expect(options.roles.requires == ["dns"])
        #expect(options.roles.bootstrapNeeds == ["dns", "web"])
        let dns = try #require(try options.roles.dnsConfiguration())
        #expect(dns.server.host == "127.0.0.1" && dns.server.port == 5353)
        #expect(dns.zone.domain.description == "cluster.example")
        #expect(dns.zone.ttl == 30)
        let configuration = options.nodeConfiguration
        #expect(configuration.cluster.roles == ["dns", "host", "web"])
        #expect(configuration.cluster.requires == ["dns"])
        #expect(configuration.cluster.bootstrapNeeds == ["dns", "web"])
        // host and dns are implemented; web is only announced.
        let roles = try options.roles.makeRoles()
        #expect(roles.map(\.name) == ["dns", "host"])
        #expect(roles.first is DNSRole)
        #expect(roles.last is HostRole)
    }

    @Test func withoutRolesNothingRunsAndTheDNSDefaultsApplyOnlyWithTheRole() throws {
        let plain = try parse([])
        #expect(plain.roles.performs.isEmpty)
        #expect(try plain.roles.dnsConfiguration() == nil)
        #expect(try plain.roles.makeRoles().isEmpty)
        let dns = try #require(try parse(["-roles", "dns"]).roles.dnsConfiguration())
        #expect(dns.server.host == "127.0.0.1" && dns.server.port == 8600)
        #expect(dns.zone.domain.description == "disco" && dns.zone.ttl == 5)
        // The flags' defaults are the server's.
        #expect(RoleFlags.defaultDNSAddress == DNSServerConfiguration.defaultAddress)
        #expect(RoleFlags.defaultDNSDomain == DNSZoneSettings.defaultDomain)
        #expect(RoleFlags.defaultDNSTTL == .seconds(Int64(DNSZoneSettings.defaultTTL)))
        #expect(try #require(try parse(["-roles", "dns", "-dns-addr", "127.0.0.1:0"]).roles.dnsConfiguration()).server.port == 0)
    }

    @Test func badRoleNamesExit2NamingTheFlagAndTheName() {
        let cases: [([String], String, String)] = [
            (["-roles", "host,DNS"], "roles", "\"DNS\""),
            (["-roles", "host,,dns"], "roles", "empty role name"),
            (["-requires", "9lives"], "requires", "\"9lives\""),
            (["-bootstrap-needs", "dns_server"], "bootstrap-needs", "\"dns_server\""),
            (["-roles", String(repeating: "a", count: 64)], "roles", "1 to 63 characters"),
        ]
        for (flags, flag, text) in cases {
            let error = failure(flags)
            #expect(error?.flag == flag, "\(flags): \(String(describing: error))")
            #expect(error?.message.contains(text) == true, "\(flags): \(String(describing: error))")
            #expect(error?.exitStatus == 2)
        }
    }

    @Test func dnsFlagsNeedTheDNSRoleAndUsableValues() {
        let conflict = failure(["-roles", "host", "-dns-addr", "127.0.0.1:5353"])
        #expect(conflict?.flag == "dns-addr" && conflict?.code == .conflict)
        #expect(conflict?.message.contains("add dns to -roles") == true)
        let cases: [([String], String, String)] = [
            (["-roles", "dns", "-dns-addr", "http://127.0.0.1:53"], "dns-addr", "URL scheme"),
            (["-roles", "dns", "-dns-addr", "nowhere"], "dns-addr", "not host:port"),
            (["-roles", "dns", "-dns-domain", "bad_label.example."], "dns-domain", "not a host name label"),
            (["-roles", "dns", "-dns-domain", "."], "dns-domain", "root"),
            (["-roles", "dns", "-dns-ttl", "1.5s"], "dns-ttl", "whole number of seconds"),
        ]
        for (flags, flag, text) in cases {
            let error = failure(flags)
            #expect(error?.flag == flag, "\(flags): \(String(describing: error))")
            #expect(error?.message.contains(text) == true, "\(flags): \(String(describing: error))")
        }
    }

    /// `-dns-addr` on the port of `-http-addr` (TCP) or `-raft-addr` (TCP, and UDP for gossip)
    /// passed the checks and `-validate`; the node then opened its data directory, started,
    /// and stopped with status 1 when the dns role could not bind ("Address already in use").
    @Test func theDNSAddressCannotShareAPortWithTheNodesListeners() {
        let cases: [[String]] = [
            ["-http-addr", "127.0.0.1:4101", "-raft-addr", "127.0.0.1:4102", "-dns-addr", "127.0.0.1:4101"],
            ["-http-addr", "127.0.0.1:4101", "-raft-addr", "127.0.0.1:4102", "-dns-addr", "127.0.0.1:4102"],
            ["-http-addr", "localhost:4101", "-raft-addr", "127.0.0.1:4102", "-dns-addr", "0.0.0.0:4101"],
        ]
        for flags in cases {
            let error = failure(["-roles", "dns"] + flags)
            #expect(error?.flag == "dns-addr" && error?.code == .conflict, "\(flags): \(String(describing: error))")
            #expect(error?.message.contains("would both listen on port") == true, "\(flags): \(String(describing: error))")
            #expect(error?.exitStatus == 2)
        }
        for flags in [["-http-addr", "127.0.0.1:4101", "-raft-addr", "127.0.0.1:4102", "-dns-addr", "127.0.0.1:4103"],
                      ["-http-addr", "127.0.0.1:4101", "-raft-addr", "127.0.0.1:4102", "-dns-addr", "127.0.0.2:4101"],
                      ["-http-addr", "127.0.0.1:4101", "-raft-addr", "127.0.0.1:4102", "-dns-addr", "127.0.0.1:0"]] {
            #expect(failure(["-roles", "dns"] + flags) == nil, "\(flags)")
        }
    }

    @Test func theHelpListsTheRoleFlagsAndTheBuiltInRoles() {
        let usage = DiscodFlags().flagSet.usage()
        for text in ["-roles", "-requires", "-bootstrap-needs", "-dns-addr", "-dns-domain", "-dns-ttl"] {
            #expect(usage.contains(text), "\(text)")
        }
        for role in BuiltInRoles.descriptions {
            #expect(usage.contains("\(role.name) (\(role.summary))"), "\(role.name)")
        }
    }
}
