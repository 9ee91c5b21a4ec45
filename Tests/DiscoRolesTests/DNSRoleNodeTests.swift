import DNSServerCore
import DiscoCore
import DiscoNet
import DiscoRoles
import DiscoTestKit
import NodeRuntime
import Testing

/// The dns role running in a node: it serves the node's cluster to dig, and consumes the events
/// for dns once across a restart.
@Suite(.serialized) struct DNSRoleNodeTests {
    static func dnsRole() throws -> DNSRole {
        DNSRole(try DNSRoleConfiguration(address: "127.0.0.1:0", domain: "disco.test.", ttl: .seconds(7)))
    }

    static func port(_ role: DNSRole) -> UInt16 { role.addresses.first?.port ?? 0 }

    @Test func servesTheNodeItsRolesAndTheLeaderOverUDPAndTCP() async throws {
        var configuration = try RoleTestNode.configuration(id: "n1")
        configuration.cluster.roles = ["web"]
        let role = try Self.dnsRole()
        let running = try await RoleTestNode.start(configuration, roles: [role])
        defer { running.removeDirectory() }
        let client = HTTPClient()
        try await waitUntil("the zone to hold n1 as leader", timeout: .seconds(120)) {
            (try? await dig(Self.port(role), "leader.disco.test")) == ["127.0.0.1"]
        }
        #expect(try await dig(Self.port(role), "n1.node.disco.test") == ["127.0.0.1"])
        #expect(try await dig(Self.port(role), "web.role.disco.test") == ["127.0.0.1"])
        #expect(try await dig(Self.port(role), "_web._tcp.disco.test", "SRV") == ["0 1 \(configuration.api.bindAddress.port) n1.node.disco.test."])
        #expect(try await dig(Self.port(role), "disco.test", "NS") == ["n1.node.disco.test."])
        let tcp = try await Command.check("/usr/bin/dig", ["+tcp", "+short", "@127.0.0.1", "-p", "\(Self.port(role))", "dns.role.disco.test"])
        #expect(tcp == "127.0.0.1\n")
        // Not a role anyone performs: NXDOMAIN with the SOA (TTL 7) for negative caching.
        let missing = try await Command.check("/usr/bin/dig", ["@127.0.0.1", "-p", "\(Self.port(role))", "db.role.disco.test"])
        #expect(missing.contains("status: NXDOMAIN"), "\(missing)")
        #expect(missing.contains("disco.test.\t\t7\tIN\tSOA"), "\(missing)")
        let elsewhere = try await Command.check("/usr/bin/dig", ["@127.0.0.1", "-p", "\(Self.port(role))", "example.com"])
        #expect(elsewhere.contains("status: REFUSED"), "\(elsewhere)")

        let status = try await running.getJSON("/status", client: client)
        #expect(status["roles"]?["dns"]?["addr"]?.stringValue == "127.0.0.1:\(Self.port(role))")
        #expect(status["roles"]?["dns"]?["domain"] == "disco.test")
        #expect(status["roles"]?["dns"]?["members_served"] == 1)
        let metrics = try await client.send(HTTPClientRequest(url: running.apiURL + "/metrics")).bodyText
        #expect(metrics.contains("disco_node_role{role=\"dns\"} 1\n"))
        #expect(metrics.contains("disco_role_live_members{role=\"web\"} 1\n"))
        #expect(metrics.contains("disco_dns_zone_members 1\n"))
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    @Test func eventsForDNSAreConsumedOnceAcrossARestart() async throws {
        let configuration = try RoleTestNode.configuration(id: "c1")
        let first = try Self.dnsRole()
        var running = try await RoleTestNode.start(configuration, roles: [first])
        defer { running.removeDirectory() }
        let client = HTTPClient()
        try await waitUntil("a leader", timeout: .seconds(120)) { (try? await running.getJSON("/leader", client: client))?["id"] == "c1" }
        let a = try #require(try await running.append(#"{"type":"a","roles":["dns"]}"#, client: client))
        _ = try await running.append(#"{"type":"other","roles":["web"]}"#, client: client)
        _ = try await running.append(#"{"n":1}"#, client: client)
        let b = try #require(try await running.append(#"{"type":"b","roles":["web","dns"]}"#, client: client))
        try await waitUntil("the role to consume a and b", timeout: .seconds(120)) {
            (try? await running.getJSON("/status", client: client))?["roles"]?["dns"]?["last_event"]?.numberValue?.uint64Value == b
        }
        #expect(try await running.getJSON("/status", client: client)["roles"]?["dns"]?["events_consumed"] == 2)
        try await waitUntil("the cursor stored at b", timeout: .seconds(120)) { running.node.eventCursor(role: "dns", consumer: "c1") == b }
        #expect(a < b)
        #expect(await running.stop() == nil)

        // The same node again, with a new role instance: it resumes after b.
        let second = try Self.dnsRole()
        running = try await RoleTestNode.start(configuration, roles: [second])
        try await waitUntil("a leader again", timeout: .seconds(120)) { (try? await running.getJSON("/leader", client: client))?["id"] == "c1" }
        let c = try #require(try await running.append(#"{"type":"c","roles":["dns"]}"#, client: client))
        try await waitUntil("the restarted role to consume c", timeout: .seconds(120)) {
            (try? await running.getJSON("/status", client: client))?["roles"]?["dns"]?["last_event"]?.numberValue?.uint64Value == c
        }
        // Only c: a and b were not handed over again.
        #expect(try await running.getJSON("/status", client: client)["roles"]?["dns"]?["events_consumed"] == 1)
        let metrics = try await client.send(HTTPClientRequest(url: running.apiURL + "/metrics")).bodyText
        #expect(metrics.contains("disco_dns_events_consumed_total{type=\"c\"} 1\n"), "\(metrics)")
        #expect(!metrics.contains("disco_dns_events_consumed_total{type=\"a\"}"))
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    /// A program embedding the node may end it by cancelling the task that runs it, with no
    /// graceful shutdown: the role's `server.stop()` came after `cancelOnGracefulShutdown` and was
    /// skipped, and the role (which the program keeps) held the server, so the port stayed bound.
    @Test func cancellingTheNodeTaskClosesTheDNSPort() async throws {
        let configuration = try RoleTestNode.configuration(id: "k1")
        // A port below the ephemeral range: one the OS picked could be taken, once freed, as the
        // source port of another test's outgoing connection before it is checked.
        let role = DNSRole(try DNSRoleConfiguration(address: "127.0.0.1:\(try FreePort.loopback())", domain: "disco.test.", ttl: .seconds(7)))
        let running = try await RoleTestNode.start(configuration, roles: [role])
        defer { running.removeDirectory() }
        try await waitUntil("the zone to hold k1", timeout: .seconds(120)) {
            (try? await dig(Self.port(role), "k1.node.disco.test")) == ["127.0.0.1"]
        }
        let port = Self.port(role)
        #expect(!FreePort.isFree(port))
        _ = await running.cancel()
        try await waitUntil("the DNS port to be free again", timeout: .seconds(60)) { FreePort.isFree(port) }
        #expect(role.addresses.isEmpty, "the role no longer holds the server")
        #expect(await role.readinessProblem() != nil)
    }

    /// `-node-id` takes any ID without whitespace or control characters, up to 256 bytes; the
    /// dns role's consumer (named after the node) must not make such a node fail.
    @Test func aNodeWhoseIDIsNoConsumerNameStillServesAndConsumes() async throws {
        for id in ["rack/1", "n" + String(repeating: "x", count: 200)] {
            let configuration = try RoleTestNode.configuration(id: NodeID(id) ?? "invalid")
            let role = try Self.dnsRole()
            let running = try await RoleTestNode.start(configuration, roles: [role])
            defer { running.removeDirectory() }
            let client = HTTPClient()
            try await waitUntil("a leader", timeout: .seconds(120)) { (try? await running.getJSON("/leader", client: client))?["id"]?.stringValue == id }
            let seq = try #require(try await running.append(#"{"type":"a","roles":["dns"]}"#, client: client))
            try await waitUntil("the role to consume the event", timeout: .seconds(120)) {
                (try? await running.getJSON("/status", client: client))?["roles"]?["dns"]?["last_event"]?.numberValue?.uint64Value == seq
            }
            let consumer = Node.defaultConsumer(for: configuration.nodeID)
            #expect(Node.consumerProblem(consumer) == nil && consumer != id, "\(consumer)")
            try await waitUntil("the cursor stored", timeout: .seconds(120)) { running.node.eventCursor(role: "dns", consumer: consumer) == seq }
            let stopped = await running.stop()
            #expect(stopped == nil, "\(id): \(String(describing: stopped))")
            await client.shutdown()
        }
    }
}
