import DiscoConsul
import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// `discoctl lookup` and `discoctl leader` as processes, against real dnsmasq and etcd and the
/// Consul double over HTTP.
@Suite(.serialized) struct DiscoctlLookupTests {
    func discoctl(_ arguments: [String]) async throws -> ExecutableRunner.Outcome {
        try await ExecutableRunner.run("discoctl", arguments, in: try ExecutableRunner.temporaryDirectory())
    }

    func records() -> DnsmasqFixture.Records {
        var records = DnsmasqFixture.Records()
        records.localDomains = ["disco.test"]
        records.hosts = [("nodes.disco.test", "10.0.0.3"), ("nodes.disco.test", "10.0.0.1"), ("nodes.disco.test", "10.0.0.2"),
                         ("n1.disco.test", "10.0.1.1"), ("n2.disco.test", "10.0.1.2")]
        records.srv = [.init(name: "_disco._tcp.disco.test", target: "n2.disco.test", port: 4102, priority: 20, weight: 1),
                       .init(name: "_disco._tcp.disco.test", target: "n1.disco.test", port: 4101, priority: 10, weight: 1)]
        return records
    }

    @Test func dnsLookupPrintsSortedAddressesWithTheDefaultPort() async throws {
        let dns = try await DnsmasqFixture.start(records())
        let outcome = try await discoctl(["lookup", "-disco-mode", "dns", "-disco-config",
                                    #"{"name":"nodes.disco.test","nameserver":"\#(dns.nameserver)"}"#, "-port", "4001"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput == "10.0.0.1:4001\n10.0.0.2:4001\n10.0.0.3:4001\n")
        await dns.stop()
    }

    @Test func dnsLookupOfAMissingNameExitsOneNamingIt() async throws {
        let dns = try await DnsmasqFixture.start(records())
        let outcome = try await discoctl(["lookup", "-disco-mode", "dns", "-disco-config",
                                    #"{"name":"missing.disco.test","nameserver":"\#(dns.nameserver)"}"#])
        await dns.stop()
        #expect(outcome.status == 1)
        #expect(outcome.standardError.contains("missing.disco.test"), "\(outcome.standardError)")
    }

    @Test func srvLookupPrintsPerRecordPortsInPriorityOrder() async throws {
        let dns = try await DnsmasqFixture.start(records())
        let outcome = try await discoctl(["lookup", "-disco-mode", "dns-srv", "-disco-config",
                                    #"{"name":"disco.test","service":"disco","nameserver":"\#(dns.nameserver)"}"#, "-json"])
        await dns.stop()
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let json = try JSONValue.parse(outcome.standardOutput)
        #expect(json.objectValue?["addresses"] == JSONValue.array([.string("10.0.1.1:4101"), .string("10.0.1.2:4102")]))
    }

    @Test func etcdLookupAndLeaderPrintTheRecord() async throws {
        let etcd = try await EtcdFixture.start()
        let config = #"{"endpoints":["\#(etcd.endpoints[0].replacingOccurrences(of: "http://", with: ""))"]}"#
        let empty = try await discoctl(["lookup", "-disco-mode", "etcd-kv", "-disco-config", config])
        #expect(empty.status == 1 && empty.standardOutput == "leader: none\n", "\(empty)")

        let client = HTTPClient()
        let registry = EtcdLeaderRegistry(gateway: EtcdGateway(endpoints: etcd.endpoints, transport: client), discoKey: "disco")
        _ = try await registry.createIfAbsent(LeaderRecord(id: "n1", apiAddr: "http://10.0.0.1:4001", addr: "10.0.0.1:4002"))
        let found = try await discoctl(["lookup", "-disco-mode", "etcd-kv", "-disco-config", config])
        #expect(found.status == 0, "\(found.standardError)")
        #expect(found.standardOutput.hasPrefix("10.0.0.1:4001\nleader: {\"id\":\"n1\""), "\(found.standardOutput)")
        let leader = try await discoctl(["leader", "-disco-mode", "etcd-kv", "-disco-config", config])
        #expect(leader.standardOutput == "id: n1\napi_addr: http://10.0.0.1:4001\naddr: 10.0.0.1:4002\n")
        let otherKey = try await discoctl(["leader", "-disco-mode", "etcd-kv", "-disco-config", config, "-disco-key", "other"])
        #expect(otherKey.status == 1, "another cluster's key holds no record")
        try await registry.release()
        await client.shutdown()
        await etcd.stop()
    }

    @Test func consulLeaderReadsTheRecordOverHTTP() async throws {
        let consul = try await ConsulKVServer.start()
        let client = HTTPClient()
        let registry = ConsulLeaderRegistry(client: ConsulClient(settings: .init(address: consul.address), transport: client),
                                            discoKey: "disco")
        _ = try await registry.createIfAbsent(LeaderRecord(id: "n7", apiAddr: "http://10.0.0.7:4001", addr: "10.0.0.7:4002"))
        let outcome = try await discoctl(["leader", "-disco-mode", "consul-kv", "-disco-config", #"{"address":"\#(consul.address)"}"#, "-json"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput.hasPrefix(#"{"id":"n7","api_addr":"http://10.0.0.7:4001","addr":"10.0.0.7:4002""#))
        await client.shutdown()
        await consul.stop()
    }

    /// rqlite's Consul client takes what disco-config leaves out from Consul's environment
    /// (`CONSUL_HTTP_ADDR`, `CONSUL_HTTP_TOKEN`, `CONSUL_HTTP_TOKEN_FILE`), and reads a
    /// `token_file` even beside an empty `token`. discoctl (and discod) asked 127.0.0.1:8500
    /// without a token instead, so a node placed by Nomad or a Consul-aware job never found the
    /// agent it was given.
    @Test(arguments: ["address from the environment", "token file from the environment", "token file beside an empty token"])
    func consulLeaderUsesConsulsEnvironmentAndTokenFile(_ setup: String) async throws {
        let consul = try await ConsulKVServer.start(double: ConsulKVDouble(token: "s3cret"))
        let client = HTTPClient()
        var settings = ConsulClient.Settings(address: consul.address)
        settings.token = "s3cret"
        let registry = ConsulLeaderRegistry(client: ConsulClient(settings: settings, transport: client), discoKey: "disco")
        _ = try await registry.createIfAbsent(LeaderRecord(id: "n8", apiAddr: "http://10.0.0.8:4001", addr: "10.0.0.8:4002"))
        let directory = try ExecutableRunner.temporaryDirectory()
        let tokenFile = directory.appendingPathComponent("consul-token").path
        try "s3cret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        var arguments = ["leader", "-disco-mode", "consul-kv", "-json"]
        var environment: [String: String]
        switch setup {
        case "address from the environment":
            environment = ["CONSUL_HTTP_ADDR": "http://\(consul.address)", "CONSUL_HTTP_TOKEN": "s3cret"]
        case "token file from the environment":
            environment = ["CONSUL_HTTP_ADDR": consul.address, "CONSUL_HTTP_TOKEN_FILE": tokenFile]
        default:
            environment = [:]
            arguments += ["-disco-config", #"{"address":"\#(consul.address)","token":"","token_file":"\#(tokenFile)"}"#]
        }
        // Whatever the test process's own environment holds, only these Consul variables count.
        for name in ["CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_SSL", "CONSUL_HTTP_AUTH"]
        where environment[name] == nil {
            environment[name] = ""
        }
        let outcome = try await ExecutableRunner.run("discoctl", arguments, in: directory, environment: environment)
        #expect(outcome.status == 0, "\(setup): \(outcome.standardError)")
        #expect(outcome.standardOutput.hasPrefix(#"{"id":"n8","api_addr":"http://10.0.0.8:4001","addr":"10.0.0.8:4002""#), "\(outcome)")
        try? await registry.release()
        await client.shutdown()
        await consul.stop()
    }

    /// `-timeout` bounds the whole lookup: the DNS client tried 3 times for 2 s each, and etcd
    /// and Consul were given 5 s, whatever `-timeout` said, and the failure did not say so.
    /// Nothing answers here, so only the message (and that discoctl exits) is asserted.
    @Test(arguments: ["dns", "dns-srv", "etcd-lookup", "etcd-leader", "consul-leader"])
    func aServerThatNeverAnswersFailsAtTimeoutNamingIt(_ backend: String) async throws {
        let silent = try SilentSocket(udp: backend.hasPrefix("dns"))
        let server = "127.0.0.1:\(silent.port)"
        let arguments: [String]
        switch backend {
        case "dns": arguments = ["lookup", "-disco-mode", "dns", "-disco-config", #"{"name":"nodes.disco.test","nameserver":"\#(server)"}"#]
        case "dns-srv":
            arguments = ["lookup", "-disco-mode", "dns-srv", "-disco-config", #"{"name":"disco.test","service":"disco","nameserver":"\#(server)"}"#]
        case "etcd-lookup": arguments = ["lookup", "-disco-mode", "etcd-kv", "-disco-config", #"{"endpoints":["\#(server)"]}"#]
        case "etcd-leader": arguments = ["leader", "-disco-mode", "etcd-kv", "-disco-config", #"{"endpoints":["\#(server)"]}"#]
        default: arguments = ["leader", "-disco-mode", "consul-kv", "-disco-config", #"{"address":"\#(server)"}"#]
        }
        let outcome = try await discoctl(arguments + ["-timeout", "1s"])
        #expect(outcome.status == 1, "\(outcome)")
        #expect(outcome.standardError.contains("did not answer within -timeout 1s"), "\(outcome)")
        #expect(outcome.standardError.contains(server), "the server that did not answer is not named: \(outcome)")
        #expect(outcome.standardOutput.isEmpty, "\(outcome)")
    }

    @Test(arguments: [
        (["lookup", "-disco-mode", "dns"], "needs -disco-config"),
        (["lookup", "-disco-mode", "dns", "-disco-config", #"{"name":"x","nope":1}"#], "nope"),
        (["lookup", "-disco-mode", "mdns"], "expected one of dns, dns-srv, consul-kv, etcd-kv"),
        (["lookup", "-disco-mode", "consul-kv", "-disco-config", #"{"address":"http://x:8500"}"#], "address"),
        (["leader", "-disco-mode", "dns", "-disco-config", #"{"name":"x"}"#], "keeps no leader record"),
        // A nameserver that is not an address: a configuration error, found before anything is sent.
        (["lookup", "-disco-mode", "dns", "-disco-config", #"{"name":"x","nameserver":"notanip"}"#], "-disco-config: "),
        (["lookup", "-disco-mode", "dns-srv", "-disco-config", #"{"name":"x","service":"disco","nameserver":"notanip"}"#], "-disco-config: "),
        // Key prefixes discod refuses were looked up (//x/leader in etcd; exit 1 "unreachable" or no record).
        (["lookup", "-disco-mode", "etcd-kv", "-disco-key", "/x"], "-disco-key: \"/x\" is not a valid key prefix"),
        (["leader", "-disco-mode", "consul-kv", "-disco-key", ""], "-disco-key: \"\" is not a valid key prefix"),
    ])
    func badFlagsAndConfigExitTwoNamingTheProblem(arguments: [String], fragment: String) async throws {
        let outcome = try await discoctl(arguments)
        #expect(outcome.status == 2)
        #expect(outcome.standardError.contains(fragment), "\(outcome.standardError)")
    }
}

/// A socket on 127.0.0.1 that never answers, held for the object's lifetime: a UDP one takes
/// datagrams and never replies (a nameserver behind a firewall that drops); a TCP one listens,
/// so the kernel accepts connections and requests are sent, but nothing ever reads or answers
/// (a hung etcd or Consul).
final class SilentSocket: Sendable {
    let port: UInt16
    private let descriptor: Int32

    init(udp: Bool) throws {
        let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, udp || listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        descriptor = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(descriptor) }
}
