import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Notifies with -auth

extension NodeProcessTests {
    @Suite struct NotifyAuth {
        /// With `-auth`, `POST /notify` from a user holding `join` (every node's `-join-as` user)
        /// rewrote an existing member: new roles were noted without any proof and the leader
        /// committed them to the member's record, and new addresses counted as proven by the
        /// credentials alone. A notify that changes a member's record now needs that member's
        /// node key (403 naming it otherwise); one that changes nothing, or carries the key, is
        /// answered as before.
        @Test func aNotifyChangingAMemberNeedsItsNodeKeyNotTheJoinPermission() async throws {
            try await DiscodCluster.with("notify-auth") { cluster in
                let authFile = cluster.root + "/auth.json"
                try """
                    [{"username":"admin","password":"admin-pass","perms":["all"]},
                     {"username":"node","password":"node-pass","perms":["join"]}]
                    """.write(toFile: authFile, atomically: true, encoding: .utf8)
                let admin = NodeProcessTests.AccessControl.basic("admin", "admin-pass")
                let joiner = [("Authorization", NodeProcessTests.AccessControl.basic("node", "node-pass"))]
                let auth = ["-auth", authFile, "-join-as", "node"]
                let ports = try DiscodCluster.ports(count: 2)
                let first = try cluster.start(id: "1", ports: ports[0], flags: auth, authorization: admin)
                try await NodeTests.eventually("node 1 to lead", [first]) { await first.leaderID() == "1" }
                let second = try cluster.start(id: "2", ports: ports[1], flags: auth + ["-join", "http://127.0.0.1:\(ports[0].http)", "-roles", "web"],
                                               authorization: admin)
                func recordOfTwo() async -> JSONValue? { await NodeTests.nodeRows(first)?.first { $0["id"]?.stringValue == "2" } }
                try await NodeTests.eventually("node 1 to record node 2 with its roles", [first, second]) {
                    let row = await recordOfTwo()
                    return row?["roles"] == ["web"] && row?["generation"] != .null && row?["generation"] != nil
                }

                let here = #""id":"2","addr":"\#(second.raftAddress)","api_addr":"127.0.0.1:\#(second.httpPort)","voter":true"#
                let elsewhere = #""id":"2","addr":"127.0.0.99:7002","api_addr":"127.0.0.99:7012","voter":true"#
                func notify(_ peer: String, roles: String, key: String? = nil) async throws -> DiscodAnswer {
                    let keyField = key.map { #","node_key":"\#($0)""# } ?? ""
                    return try await first.request("POST", "/notify", body: #"{\#(peer),"roles":\#(roles),"cluster":"disco","expect":1\#(keyField)}"#,
                                                   headers: joiner)
                }
                for (peer, roles, change) in [(here, #"["dns"]"#, #"roles ["dns"] instead of ["web"]"#),
                                              (elsewhere, #"["web"]"#, "addresses 127.0.0.99:7002 (API http://127.0.0.99:7012) instead of \(second.raftAddress)")] {
                    let answer = try await notify(peer, roles: roles)
                    #expect(answer.status == 403, "\(answer.status) \(answer.text)")
                    #expect(answer.json?["missing"]?.stringValue == "node_key", "\(answer.text)")
                    #expect(answer.json?["member"]?.stringValue == "2", "\(answer.text)")
                    let error = answer.json?["error"]?.stringValue ?? ""
                    #expect(error.contains("node 2 is already a member: a notify that changes its record (\(change)"), "\(error)")
                    #expect(error.contains("must carry its node key"), "\(error)")
                }
                let row = await recordOfTwo()
                #expect(row?["roles"] == ["web"] && row?["addr"]?.stringValue == second.raftAddress, "\(String(describing: row))")

                // A notify that changes nothing (as a forming node's are) is answered as before,
                // and so is a change carrying node 2's key.
                let same = try await notify(here, roles: #"["web"]"#)
                #expect(same.status == 200, "\(same.status) \(same.text)")
                let key = try String(contentsOfFile: cluster.dataDirectory(for: "2") + "/node-key", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                let keyed = try await notify(here, roles: #"["web"]"#, key: key)
                #expect(keyed.status == 200, "\(keyed.status) \(keyed.text)")
                let keyedRoles = try await notify(here, roles: #"["dns","web"]"#, key: key)
                #expect(keyedRoles.status == 200, "\(keyedRoles.status) \(keyedRoles.text)")
            }
        }
    }
}
