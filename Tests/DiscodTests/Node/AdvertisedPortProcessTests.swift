import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Nodes advertised on another port than they listen on

extension NodeProcessTests {
    /// Each node listens on 127.0.0.2 and is reached through a port mapping on 127.0.0.1 from
    /// another port number (a relay for TCP and UDP, as `docker run -p 14002:4002/tcp -p
    /// 14002:4002/udp`), which its `-raft-adv-addr` names. As behind a real mapping, nothing
    /// answers at the advertised host on the listen port. Gossip must tell the others the
    /// advertised address, port included: a node that learned the listen port instead would
    /// probe and list its peers there, find them dead and send Raft nowhere.
    @Suite struct AdvertisedPort {
        /// Where the nodes listen (HTTP and Raft); their mappings are on 127.0.0.1.
        static let listenHost = "127.0.0.2"

        @Test(arguments: DiscodEngine.allCases)
        func membersStayAtTheirMappedAddressesThroughALeaderChange(engine: DiscodEngine) async throws {
            var relays: [PortRelay] = []
            defer { for relay in relays { relay.stop() } }
            try await DiscodCluster.with("advport", engine: engine) { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                for pair in ports { relays.append(try await PortRelay.start(to: pair.raft, on: Self.listenHost)) }
                let join = ports.map { "http://\(Self.listenHost):\($0.http)" }.joined(separator: ",")
                var nodes: [DiscodProcess] = []
                var mapped: [String: String] = [:]
                for (index, pair) in ports.enumerated() {
                    let address = "127.0.0.1:\(relays[index].port)"
                    nodes.append(try cluster.start(id: "\(index + 1)", host: Self.listenHost, ports: pair,
                                                   flags: ["-bootstrap-expect", "3", "-join", join, "-raft-adv-addr", address]))
                    mapped["\(index + 1)"] = address
                }
                let leader = try await DiscodCluster.waitForLeader(nodes)
                try await NodeTests.append(#"{"test":"advport","n":1}"#, via: nodes[0], others: nodes)
                try await Self.waitForMappedAddresses(on: nodes, mapped)

                let (old, survivors) = try NodeTests.split(nodes, leader: leader)
                await old.kill()
                let next = try await NodeTests.waitForNewLeader(survivors, replacing: leader)
                #expect(next != leader)
                try await NodeTests.append(#"{"test":"advport","n":2}"#, via: survivors[0], others: survivors)
                // The survivors list every member, the stopped one included, at its mapping.
                try await Self.waitForMappedAddresses(on: survivors, mapped)
                try await NodeTests.waitForEvents(NodeTests.events("advport", 1...2), on: survivors)
            }
        }

        /// Waits until every node in `nodes` sees every member of `mapped` alive in gossip (or
        /// knows it stopped) and lists each at its mapped address in `/status` (`members[].addr`,
        /// `node.addr`, `leader.addr`); fails with what was seen last.
        static func waitForMappedAddresses(on nodes: [DiscodProcess], _ mapped: [String: String]) async throws {
            var seen: [String: String] = [:]
            do {
                try await NodeTests.eventually("every member listed at its mapped address", nodes) {
                    for node in nodes {
                        guard let status = try? await node.status() else { return false }
                        let rows = status["members"]?.arrayValue ?? []
                        let listed = Dictionary(rows.compactMap { row in
                            row["id"]?.stringValue.map { ($0, row["addr"]?.stringValue ?? "none") }
                        }, uniquingKeysWith: { first, _ in first })
                        seen[node.nodeID] = "\(listed.sorted { $0.key < $1.key }) self \(status["node"]?["addr"]?.stringValue ?? "none")"
                        guard listed == mapped, status["node"]?["addr"]?.stringValue == mapped[node.nodeID] else { return false }
                        guard let leader = status["leader"]?["id"]?.stringValue,
                              status["leader"]?["addr"]?.stringValue == mapped[leader] else { return false }
                        // Gossip has spoken about every live member, so what it said is in the book.
                        let live = nodes.map(\.nodeID)
                        let states = rows.filter { live.contains($0["id"]?.stringValue ?? "") }.map { $0["swim"]?.stringValue }
                        guard states.allSatisfy({ $0 == "alive" }) else { return false }
                    }
                    return true
                }
            } catch {
                throw NodeTestFailure("members not listed at their mapped addresses \(mapped); last seen \(seen)\n\(error)")
            }
        }
    }
}
