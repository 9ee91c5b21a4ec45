import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - -auth and -join-as

extension NodeProcessTests {
    @Suite struct AccessControl {
        static func basic(_ user: String, _ password: String) -> String {
            "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        }

        /// Writes the auth file: an admin with a hashed password (made by `discoctl
        /// hash-password`), the nodes' own user, a non-voter joiner, a reader, and `"*"` for
        /// readiness and metrics.
        static func writeAuthFile(in cluster: DiscodCluster) async throws -> String {
            let hashed = try await Discoctl.run(["hash-password", "-iterations", "10000"], input: "admin-pass\n")
            #expect(hashed.status == 0, "\(hashed)")
            let hash = hashed.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(hash.hasPrefix("$pbkdf2-sha256$i=10000$"))
            let text = """
                [{"username":"admin","password":"\(hash)","perms":["all"]},
                 {"username":"node","password":"node-pass","perms":["join","status"]},
                 {"username":"replica","password":"replica-pass","perms":["join-read-only"]},
                 {"username":"reader","password":"read-pass","perms":["events-read","status"]},
                 {"username":"*","perms":["ready","metrics"]}]
                """
            let path = cluster.root + "/auth.json"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        /// Three nodes with `-auth` (the file of ``writeAuthFile(in:)``), joining as user `node`,
        /// formed: all of them, the leader, the followers, their ports and the auth file's path.
        static func startAuthCluster(_ cluster: DiscodCluster) async throws
            -> (nodes: [DiscodProcess], leader: DiscodProcess, followers: [DiscodProcess], ports: [(http: UInt16, raft: UInt16)], authFile: String) {
            let authFile = try await writeAuthFile(in: cluster)
            let ports = try DiscodCluster.ports(count: 3)
            let flags = NodeTests.seedFlags(expect: 3, join: ports) + ["-auth", authFile, "-join-as", "node"]
            let admin = basic("admin", "admin-pass")
            let nodes = try ports.enumerated().map { index, pair in
                try cluster.start(id: "\(index + 1)", ports: pair, flags: flags, authorization: admin)
            }
            let leaderID = try await DiscodCluster.waitForLeader(nodes)
            let (leader, followers) = try NodeTests.split(nodes, leader: leaderID)
            return (nodes, leader, followers, ports, authFile)
        }

        /// Anonymous callers may only do what `"*"` grants (401 with `WWW-Authenticate`
        /// otherwise), users only what their permissions grant (403), wrong passwords get 401; the
        /// nodes form with `-join-as`, a follower forwards an authorized write, a node with
        /// `-join-as` joins and one without is refused.
        @Test func permissionsAreEnforcedAndNodesJoinAsTheirUser() async throws {
            try await DiscodCluster.with("auth") { cluster in
                let (nodes, leader, followers, ports, authFile) = try await Self.startAuthCluster(cluster)
                let admin = Self.basic("admin", "admin-pass")
                #expect(nodes[0].process.output.contains("access control: 5 users from \(authFile)"))

                // Public: readiness and metrics.
                #expect(try await firstAnswer("GET /readyz") { try await followers[0].request("GET", "/readyz", anonymous: true) }.status == 200)
                #expect(try await firstAnswer("GET /metrics") { try await followers[0].request("GET", "/metrics", anonymous: true) }.status == 200)

                // Anonymous callers cannot change the cluster, read events or status.
                let ghost = #"{"id":"ghost","addr":"127.0.0.99:7001","api_addr":"127.0.0.99:7011","voter":true,"cluster":"disco"}"#
                let anonymous: [(String, String, String?, String)] = [
                    ("POST", "/join", ghost, "join"), ("DELETE", "/remove", #"{"id":"2"}"#, "remove"),
                    ("POST", "/events", #"{"anonymous":true}"#, "events-write"), ("GET", "/events", nil, "events-read"),
                    ("GET", "/status", nil, "status"), ("POST", "/notify", nil, "join"),
                ]
                for (method, path, body, permission) in anonymous {
                    let answer = try await leader.request(method, path, body: body, anonymous: true)
                    #expect(answer.status == 401, "\(method) \(path): \(answer.status) \(answer.text)")
                    #expect(answer.headers["WWW-Authenticate"] == #"Basic realm="disco""#, "\(method) \(path)")
                    #expect(answer.json?["permission"]?.stringValue == permission, "\(method) \(path): \(answer.text)")
                    #expect(answer.json?["error"]?.stringValue?.contains("needs the \(permission) permission") == true, "\(answer.text)")
                }
                #expect(try await firstAnswer("GET /nodes on the leader") { await leader.memberIDs() } == ["1", "2", "3"], "an anonymous join or remove changed the members")

                // Users get what their permissions allow, and no more.
                let reader = [("Authorization", Self.basic("reader", "read-pass"))]
                let denied = try await leader.request("POST", "/events", body: #"{"reader":true}"#, headers: reader)
                #expect(denied.status == 403, "\(denied.status) \(denied.text)")
                #expect(denied.json?["error"]?.stringValue == #"user "reader" lacks the events-write permission that POST /events needs"#)
                #expect(denied.json?["permission"]?.stringValue == "events-write")
                #expect(try await firstAnswer("GET /events as reader") { try await leader.request("GET", "/events", headers: reader) }.status == 200)
                let wrongPassword = [("Authorization", Self.basic("admin", "nope"))]
                let wrong = try await firstAnswer("GET /events on the leader") { try await leader.request("GET", "/events", headers: wrongPassword) }
                #expect(wrong.status == 401, "\(wrong.text)")
                #expect(wrong.json?["error"]?.stringValue?.hasPrefix("authentication failed: unknown user or wrong password") == true)
                let replica = [("Authorization", Self.basic("replica", "replica-pass"))]
                let voterJoin = try await leader.request("POST", "/join", body: ghost, headers: replica)
                #expect(voterJoin.status == 403, "\(voterJoin.text)")
                #expect(voterJoin.json?["permission"]?.stringValue == "join")

                // An authorized write through a follower is forwarded with the caller's credentials.
                let event = #"{"test":"auth","n":1}"#
                try await NodeTests.append(event, via: followers[0], others: nodes)
                try await NodeTests.waitForEvents([event], on: nodes)

                // A node with -join-as joins and votes; one without is refused and says why.
                let joinList = DiscodCluster.joinList(ports)
                let fourth = try cluster.start(id: "4", ports: try DiscodCluster.ports(),
                                               flags: ["-join", joinList, "-auth", authFile, "-join-as", "node"], authorization: admin)
                try await NodeTests.eventually("node 4 to vote", nodes + [fourth]) {
                    await NodeTests.voterIDs(leader) == ["1", "2", "3", "4"]
                }
                let stranger = try cluster.start(id: "5", ports: try DiscodCluster.ports(), flags: ["-join", joinList, "-auth", authFile])
                #expect(try await stranger.process.waitForExit(timeout: .seconds(60)) == 1)
                #expect(stranger.process.output.contains("did you forget to set -join-as?"), "\(stranger.process.output.suffix(2000))")
                #expect(try await firstAnswer("GET /nodes on the leader") { await leader.memberIDs() } == ["1", "2", "3", "4"])

                // A member that lost its node key moves to new addresses on the strength of its
                // -join-as credentials (the join permission) instead.
                let mover = followers[1]
                #expect(await mover.terminate() == 0)
                try FileManager.default.removeItem(atPath: mover.dataDirectory + "/node-key")
                let newPorts = try DiscodCluster.ports()
                let moved = try cluster.restart(mover, ports: newPorts, flags: ["-join", joinList, "-auth", authFile, "-join-as", "node"])
                let all = [leader, followers[0], fourth, moved]
                try await NodeTests.eventually("every node to record node \(moved.nodeID) at \(moved.raftAddress)", all) {
                    for node in all {
                        let row = await NodeTests.nodeRows(node)?.first { $0["id"]?.stringValue == moved.nodeID }
                        guard row?["addr"]?.stringValue == moved.raftAddress else { return false }
                    }
                    return true
                }
                try await NodeTests.append(#"{"test":"auth","n":2}"#, via: moved, others: all)

                // The same without -join-as is refused, and the node says it was its credentials
                // (not, as it once did, that its data belongs to another cluster).
                let unproven = followers[0]
                #expect(await unproven.terminate() == 0)
                try FileManager.default.removeItem(atPath: unproven.dataDirectory + "/node-key")
                let refused = try cluster.restart(unproven, ports: try DiscodCluster.ports(), flags: ["-join", joinList, "-auth", authFile])
                #expect(try await refused.process.waitForExit(timeout: .seconds(120)) == 1)
                #expect(refused.process.output.contains("refused this node's credentials"), "\(refused.process.output.suffix(2000))")
                #expect(!refused.process.output.contains("belongs to another cluster"), "\(refused.process.output.suffix(2000))")
            }
        }
    }
}
