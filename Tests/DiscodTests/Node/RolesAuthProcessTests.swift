import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Roles with -auth

extension NodeProcessTests.Roles {
    /// With `-auth` and `-join-as` a user holding `join` (as in the README), a `host` role on a
    /// follower appends its member events through the leader. Its appends were forwarded as
    /// `POST /events`, which needs `events-write`, so the leader refused every one ("user "node"
    /// lacks the events-write permission") and, while the leader performed no `host`, no member
    /// event was ever appended. A node's own writes go to the leader as the node, as its
    /// key-value writes do.
    @Test func aHostRoleOnAFollowerAppendsWithTheJoinPermission() async throws {
        try await DiscodCluster.with("roles-auth") { cluster in
            let authFile = cluster.root + "/auth.json"
            try """
                [{"username":"admin","password":"admin-pass","perms":["all"]},
                 {"username":"node","password":"node-pass","perms":["join"]},
                 {"username":"*","perms":["ready","metrics"]}]
                """.write(toFile: authFile, atomically: true, encoding: .utf8)
            let admin = NodeProcessTests.AccessControl.basic("admin", "admin-pass")
            let auth = ["-auth", authFile, "-join-as", "node"]
            let ports = try DiscodCluster.ports(count: 2)
            let first = try cluster.start(id: "1", ports: ports[0], flags: auth + ["-roles", "dns", "-dns-addr", "127.0.0.1:0"],
                                          authorization: admin)
            try await NodeTests.eventually("node 1 to lead", [first]) { await first.leaderID() == "1" }
            let second = try cluster.start(id: "2", ports: ports[1], flags: auth + ["-join", "http://127.0.0.1:\(ports[0].http)", "-roles", "host"],
                                           authorization: admin)
            try await NodeTests.eventually("node 2's host role to report both members", [first, second]) {
                let one = await Self.joinEvents(of: "1", on: first)
                let two = await Self.joinEvents(of: "2", on: first)
                return one == 1 && two == 1
            }
            #expect(!second.process.output.contains("lacks the events-write permission"), "\(second.process.output)")
        }
    }
}
