import DNSServerCore
import DiscoCore
import DiscoDNSMessage
@testable import DiscoRoles
import NodeRuntime
import Testing

@Suite struct ClusterZoneTests {
    static func member(_ id: NodeID, _ api: String, roles: [String]) -> ClusterMember {
        ClusterMember(id: id, raftAddress: "127.0.0.9:4002", apiAddress: api, voter: true, roles: roles)
    }

    @Test func membersGetTheirAPIAddressPortRolesAndGossipState() {
        let members = [
            Self.member("n1", "10.0.0.1:4001", roles: ["dns", "host"]),
            Self.member("n2", "10.0.0.2:4011", roles: ["host"]),
            Self.member("n3", "[fd00::3]:4021", roles: ["dns"]),
            Self.member("n4", "node-4.example:4031", roles: ["web"]),
            Self.member("n5", "10.0.0.5:4041", roles: ["web"]),
        ]
        // n1 is this node (alive whatever gossip says); n2 suspect; n3 dead; n4 unknown to gossip; n5 left.
        let gossip: [NodeID: MembershipState] = ["n1": .dead, "n2": .suspect, "n3": .dead, "n5": .left]
        let source = ClusterZone.source(members: members, gossip: gossip, unknownServed: ["n4"], local: "n1", leader: "n2", serial: 7) { host in
            if let address = ClusterZone.numericAddress(host) { return [address] }
            return host == "node-4.example" ? [DNSIPAddress(bytes: [10, 0, 0, 4])!] : []
        }
        #expect(source.serial == 7 && source.leader == "n2")
        #expect(source.members.map(\.state) == [.alive, .suspect, .dead, .alive, .dead])
        #expect(source.members.map(\.apiPort) == [4001, 4011, 4021, 4031, 4041])
        #expect(source.members.map { $0.addresses.map(\.description) } == [["10.0.0.1"], ["10.0.0.2"], ["fd00::3"], ["10.0.0.4"], ["10.0.0.5"]])
        #expect(source.members[0].roles == ["dns", "host"])
        // Name servers: the live members performing dns (n3 is dead).
        #expect(source.nameServers == ["n1"])
    }

    /// A member gossip does not know is served only within its grace: after a DNS node restarts,
    /// a member that died meanwhile is unknown to its gossip for good, and was served for ever.
    @Test func aMemberUnknownToGossipPastItsGraceIsNotServed() {
        let members = [Self.member("n1", "10.0.0.1:4001", roles: ["dns"]), Self.member("n3", "10.0.0.3:4001", roles: ["dns", "host"])]
        let source = ClusterZone.source(members: members, gossip: ["n1": .alive], unknownServed: [], local: "n1", leader: "n1",
                                        serial: 1) { ClusterZone.numericAddress($0).map { [$0] } ?? [] }
        #expect(source.members.map(\.state) == [.alive, .dead])
        #expect(source.nameServers == ["n1"])
    }

    @Test func unknownMembersAreServedForTheirGraceFromWhenFirstSeenUnknown() {
        var unknown = UnknownMembers(grace: .seconds(30))
        let start = ContinuousClock.now
        #expect(unknown.served(unknown: ["n3"], now: start) == ["n3"])
        #expect(unknown.nextExpiry(after: start) == start + .seconds(30))
        #expect(unknown.served(unknown: ["n3", "n4"], now: start + .seconds(20)) == ["n3", "n4"])
        #expect(unknown.served(unknown: ["n3", "n4"], now: start + .seconds(30)) == ["n4"], "n3's grace is over")
        #expect(unknown.nextExpiry(after: start + .seconds(30)) == start + .seconds(50))
        // Gossip met n4: forgotten, and a grace of its own if it is ever unknown again.
        #expect(unknown.served(unknown: ["n3"], now: start + .seconds(40)) == [])
        #expect(unknown.served(unknown: ["n3", "n4"], now: start + .seconds(60)) == ["n4"])
        #expect(unknown.nextExpiry(after: start + .seconds(60)) == start + .seconds(90))
    }

    /// A member gossip declared dead is forgotten by it once its tombstone expires (30 minutes):
    /// it was then "unknown" and got a fresh grace, so a member dead for half an hour came back
    /// into the role, SRV and NS answers for 30 s at the next rebuild.
    @Test func aMemberGossipForgetsIsNotServedAgain() {
        var unknown = UnknownMembers(grace: .seconds(30))
        let start = ContinuousClock.now
        let records: Set<NodeID> = ["n1", "n2", "n3"]
        unknown.heard(["n2", "n3"])  // gossip: n2 alive, n3 dead
        #expect(unknown.served(unknown: [], records: records, now: start) == [])
        // Its tombstone expired: gossip no longer reports n3.
        unknown.heard(["n2"])
        #expect(unknown.served(unknown: ["n3"], records: records, now: start + .seconds(1800)) == [], "n3 is dead, not new")
        #expect(unknown.nextExpiry(after: start + .seconds(1800)) == nil)
        // Removed from the records and added again, it is a new member: it gets its grace.
        #expect(unknown.served(unknown: [], records: ["n1", "n2"], now: start + .seconds(1900)) == [])
        #expect(unknown.served(unknown: ["n3"], records: records, now: start + .seconds(2000)) == ["n3"])
    }

    @Test func numericAddressesAreReadAndNamesAreNot() {
        #expect(ClusterZone.numericAddress("127.0.0.1")?.bytes == [127, 0, 0, 1])
        #expect(ClusterZone.numericAddress("[::1]")?.description == "::1")
        #expect(ClusterZone.numericAddress("localhost") == nil)
        #expect(ClusterZone.numericAddress("300.1.1.1") == nil)
    }
}
