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
        let source = ClusterZone.source(members: members, gossip: gossip, local: "n1", leader: "n2", serial: 7) { host in
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

    @Test func numericAddressesAreReadAndNamesAreNot() {
        #expect(ClusterZone.numericAddress("127.0.0.1")?.bytes == [127, 0, 0, 1])
        #expect(ClusterZone.numericAddress("[::1]")?.description == "::1")
        #expect(ClusterZone.numericAddress("localhost") == nil)
        #expect(ClusterZone.numericAddress("300.1.1.1") == nil)
    }
}

@Suite struct HostRoleEventTests {
    let member = ClusterMember(id: "n4", raftAddress: "10.0.0.4:4002", apiAddress: "10.0.0.4:4001", voter: true, roles: ["host"])

    @Test func joinsLeavesAndMovesBecomeEventsForTheTargetsKeyedByTheirRaftIndex() throws {
        let (joined, joinKey) = try #require(HostRole.event(for: .joined(member, index: 57), targets: ["dns"]))
        #expect(joined.encoded() == #"{"type":"member-joined","roles":["dns"],"member":{"id":"n4","addr":"10.0.0.4:4002","api_addr":"10.0.0.4:4001","roles":["host"]},"raft_index":57}"#)
        #expect(joinKey == "host-member-joined-57")
        let target = try EventTarget(event: joined)
        #expect(target.type == "member-joined" && target.isFor("dns") && !target.isFor("host"))

        let (left, leftKey) = try #require(HostRole.event(for: .left(member, index: 90), targets: ["dns", "audit"]))
        #expect(left["type"] == "member-left" && left["roles"] == ["audit", "dns"])
        #expect(leftKey == "host-member-left-90")

        var moved = member
        moved.apiAddress = "10.0.0.44:4001"
        let (change, moveKey) = try #require(HostRole.event(for: .updated(moved, previous: member, index: 70), targets: ["dns"]))
        #expect(change["type"] == "member-address-changed")
        #expect(change["member"]?["api_addr"] == "10.0.0.44:4001" && change["previous"]?["api_addr"] == "10.0.0.4:4001")
        #expect(moveKey == "host-member-address-changed-70")
    }

    @Test func changesThatKeepTheAddressesAndRestoresAreNotReported() {
        var promoted = member
        promoted.voter = false
        #expect(HostRole.event(for: .updated(promoted, previous: member, index: 3), targets: ["dns"]) == nil)
        #expect(HostRole.event(for: .restored(index: 9), targets: ["dns"]) == nil)
    }
}
