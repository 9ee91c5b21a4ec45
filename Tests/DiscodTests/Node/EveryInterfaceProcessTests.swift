import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - Nodes listening on every interface

extension NodeProcessTests {
    /// `-http-addr :P -raft-addr :R` (rqlite's, Go's every-interface form) with
    /// `-http-adv-addr`/`-raft-adv-addr` naming the host the others use: the node listens on IPv6
    /// and IPv4 (one dual-stack socket each for HTTP, Raft and SWIM), and its IPv4 peers are
    /// IPv4 addresses, as behind `0.0.0.0`.
    @Suite struct EveryInterface {
        /// Answers over 127.0.0.1 and over ::1 (skipped where ::1 cannot be bound), and names an
        /// IPv4 client of its Raft port as the IPv4 address it is.
        @Test func aNodeOnAnEmptyHostAnswersOverIPv4AndIPv6() async throws {
            try await DiscodCluster.with("every-one") { cluster in
                let ports = try DiscodCluster.ports()
                let node = try cluster.start(id: "1", bindHost: "", ports: ports, flags: [])
                #expect(node.arguments.contains("-http-addr=:\(ports.http)") && node.arguments.contains("-http-adv-addr=127.0.0.1:\(ports.http)"))
                try await DiscodCluster.waitForLeader([node])
                let status = try await node.status()
                #expect(status["node"]?["api_addr"]?.stringValue.map { $0.hasSuffix("127.0.0.1:\(ports.http)") } == true, "\(status)")
                if IPv6Loopback.isAvailable {
                    let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(5), requestTimeout: .seconds(10)))
                    let answer = try await client.send(HTTPClientRequest(url: "http://[::1]:\(ports.http)/status"))
                    await client.shutdown()
                    #expect(answer.status == 200, "GET /status over ::1: \(answer.status)")
                    let raft = try await TCPConnection.connect(host: "::1", port: ports.raft)
                    raft.close()
                } else {
                    print("EveryInterface: ::1 cannot be bound here; only IPv4 checked")
                }
                // Something that is no Raft frame, from IPv4: the refusal names 127.0.0.1.
                let stranger = try await TCPConnection.connect(host: "127.0.0.1", port: ports.raft)
                try await stranger.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                _ = try await node.process.waitForOutput(containing: "closing internode connection from 127.0.0.1:", timeout: .seconds(60))
                #expect(!node.process.output.contains("::ffff:"), "\(node.process.output)")
                stranger.close()
            }
        }

        /// Three nodes bound on every interface (`:PORT`, `[::]:PORT`), advertised on
        /// 127.0.0.1, form one cluster; gossip (UDP from a dual-stack socket to IPv4 members)
        /// sees every member alive at its advertised address.
        @Test(arguments: ["", "[::]"])
        func threeNodesOnEveryInterfaceFormACluster(bindHost: String) async throws {
            try await DiscodCluster.with("every-three") { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                let flags = NodeTests.seedFlags(expect: 3, join: ports)
                let nodes = try ports.enumerated().map { index, pair in
                    try cluster.start(id: "\(index + 1)", bindHost: bindHost, ports: pair, flags: flags)
                }
                try await DiscodCluster.waitForLeader(nodes)
                let expected = Dictionary(uniqueKeysWithValues: zip(nodes.map(\.nodeID), ports.map { "127.0.0.1:\($0.raft)" }))
                var seen = ""
                do {
                    try await NodeTests.eventually("every member alive in gossip at its advertised address", nodes) {
                        for node in nodes {
                            guard let rows = try? await node.status()["members"]?.arrayValue else { return false }
                            let listed = rows.compactMap { row -> (String, String, String)? in
                                guard let id = row["id"]?.stringValue else { return nil }
                                return (id, row["addr"]?.stringValue ?? "none", row["swim"]?.stringValue ?? "none")
                            }
                            seen = "\(node.nodeID): \(listed)"
                            guard listed.count == 3, listed.allSatisfy({ expected[$0.0] == $0.1 && $0.2 == "alive" }) else { return false }
                        }
                        return true
                    }
                } catch {
                    throw NodeTestFailure("members not all alive at 127.0.0.1; last seen \(seen)\n\(error)")
                }
                try await NodeTests.append(#"{"test":"every","n":1}"#, via: nodes[0], others: nodes)
            }
        }
    }
}
