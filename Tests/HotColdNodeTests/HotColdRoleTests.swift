import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
import Foundation
import HotCold
import HotColdNode
import LeaseCore
import NodeRuntime
import Testing

/// Three real nodes in this process (Raft, SWIM and the HTTP API on loopback), each running the
/// hot/cold role: the lease lives in their replicated key-value state.
@Suite("Hot/cold as a role of real nodes")
struct HotColdRoleTests {
    static let timeout: Duration = .seconds(60)

    struct Member {
        let id: NodeID
        let node: Node
        let role: HotColdRole
        let url: String
    }

    static func configuration(_ id: NodeID, join: UInt16?) throws -> (NodeConfiguration, UInt16) {
        let directory = NSTemporaryDirectory() + "disco-hotcold-\(id)-\(UUID().uuidString.prefix(8))"
        let http = try FreePort.loopback()
        var configuration = NodeConfiguration(nodeID: id, dataDirectory: directory)
        configuration.api.bindAddress = PeerAddress(host: "127.0.0.1", port: http)
        configuration.internode.bindAddress = PeerAddress(host: "127.0.0.1", port: try FreePort.loopback())
        if let join {
            configuration.formation.plan = .join
            configuration.formation.join = [PeerAddress(host: "127.0.0.1", port: join)]
        }
        return (configuration, http)
    }

    static func hotCold(group: LeaseGroup) -> HotColdConfiguration {
        var configuration = HotColdConfiguration()
        configuration.group = group
        configuration.lease = (try? LeaseSettings(ttl: .milliseconds(1600), renewDeadline: .milliseconds(1300),
                                                  renewPeriod: .milliseconds(300))) ?? LeaseSettings()
        return configuration
    }

    /// Starts one node per entry of `groups` (the first forms the cluster and leads, the others
    /// join it) with the hot/cold role in its group, each node's run a task of `nodes`, and
    /// waits until all of them vote.
    func startCluster(groups: [(NodeID, LeaseGroup)], logger: Logger, client: HTTPClient, started: StartedNodes,
                      directories: inout [String], nodes: inout ThrowingTaskGroup<Void, any Error>) async throws -> [Member] {
        var members: [Member] = []
        var firstPort: UInt16?
        for (id, group) in groups {
            let (configuration, port) = try Self.configuration(id, join: firstPort)
            directories.append(configuration.dataDirectory)
            let role = HotColdRole(configuration: Self.hotCold(group: group))
            let node = try await Node.start(configuration, logger: logger, roles: [role])
            started.add(node)
            nodes.addTask { try await node.run() }
            members.append(Member(id: id, node: node, role: role, url: "http://127.0.0.1:\(port)"))
            if firstPort == nil {
                firstPort = port
                try await waitUntil("\(id) to lead", timeout: Self.timeout) { node.keyValues(namespace: "x").revision > 0 }
            }
        }
        let count = groups.count
        let first = members[0].url
        try await waitUntil("\(count) voters", timeout: Self.timeout) {
            let (_, json, _) = await get(client, first + "/nodes")
            return json?.arrayValue?.filter { $0["voter"]?.boolValue == true }.count == count
        }
        return members
    }

    func get(_ client: HTTPClient, _ url: String) async -> (Int, JSONValue?, String) {
        guard let answer = try? await client.send(HTTPClientRequest(url: url)) else { return (0, nil, "") }
        return (answer.status, try? JSONValue.parse(answer.body), answer.bodyText)
    }

    /// One node is hot and every node agrees on it and its token; `/readyz?hot` is 200 only
    /// there; when the hot node stops, another takes over with a higher token, and the last
    /// nodes stop although their lease proposals can no longer reach a quorum.
    @Test
    func oneNodeIsHotAndItsSuccessorTakesOverWhenItStops() async throws {
        let logger = Logger(label: "test", level: .warning, handler: LogfmtHandler(sink: MemoryLogSink()))
        let client = HTTPClient()
        var directories: [String] = []
        defer { for directory in directories { try? FileManager.default.removeItem(atPath: directory) } }
        try await withNodes { started, nodes in
            let members = try await startCluster(groups: [("h1", .default), ("h2", .default), ("h3", .default)], logger: logger, client: client,
                                                 started: started, directories: &directories, nodes: &nodes)
            func hot(above token: UInt64 = 0) -> [Member] {
                members.filter { ($0.role.shell?.gate.fencingToken() ?? 0) > token }
            }
            try await waitUntil("one hot node", timeout: Self.timeout) { hot().count == 1 }
            let first = try #require(hot().first)
            let firstToken = try #require(first.role.shell?.gate.fencingToken())
            // The change is in the event log, as every node reads it, for the role hot-cold.
            try await waitUntil("the hot change in the event log", timeout: Self.timeout) {
                let (status, json, _) = await get(client, members[2].url + "/events?role=hot-cold&since=0")
                return status == 200 && (json?["events"]?.arrayValue ?? []).contains { event in
                    event["data"]?["type"]?.stringValue == "hot-cold" && event["data"]?["node"]?.stringValue == first.id.rawValue
                        && event["data"]?["state"]?.stringValue == "hot" && event["data"]?["token"]?.numberValue?.uint64Value == firstToken
                }
            }
            // Every node's GET /hot names the same hot node and token.
            for member in members {
                try await waitUntil("\(member.id) to see \(first.id) hot", timeout: Self.timeout) {
                    let (status, json, _) = await get(client, member.url + "/hot")
                    return status == 200 && json?["hot"]?.stringValue == first.id.rawValue
                        && json?["token"]?.numberValue?.uint64Value == firstToken
                }
            }
            // /readyz?hot: 200 only on the hot node. Polled: on a starved machine the hot node's
            // own view of its lease can lapse for a moment (it reads as cold, and not ready, until
            // its next renewal), which is the lease doing its job.
            try await waitUntil("/readyz?hot 200 on \(first.id) alone, /readyz 200 everywhere", timeout: Self.timeout) {
                var expected = true
                for member in members {
                    let (status, _, text) = await get(client, member.url + "/readyz?hot")
                    let (plain, _, _) = await get(client, member.url + "/readyz")
                    let hotAnswer = member.id == first.id ? status == 200 : status == 503 && text.contains("the hot replica is \(first.id)")
                    expected = expected && hotAnswer && plain == 200
                }
                return expected
            }
            // A value of hot= that means nothing is a bad request (400, as /readyz's own parameters), not
            // "not ready": a probe written with it would otherwise read as a replica that is never hot.
            for query in ["?hot=maybe", "?noleader&hot=maybe"] {
                let (bad, _, badText) = await get(client, members[0].url + "/readyz" + query)
                #expect(bad == 400 && badText.contains("hot=maybe is not a valid value") && badText.contains("hot=true"),
                        "\(query): \(bad) \(badText)")
            }
            // Liveness checks no role: asked beside noleader, hot= would be ignored and a cold
            // replica would pass a probe that asks whether it is hot. A 400 says so.
            for member in members {
                for query in ["?noleader&hot", "?hot=true&noleader", "?noleader=1&hot=false"] {
                    let (status, _, text) = await get(client, member.url + "/readyz" + query)
                    #expect(status == 400 && text.contains("noleader checks liveness only") && text.contains("drop noleader"),
                            "\(member.id) \(query): \(status) \(text)")
                }
            }

            // The hot node stops: it releases, and another takes over with a higher token.
            first.node.shutdown()
            try await waitUntil("another node hot after the stop", timeout: Self.timeout) {
                let others = hot(above: firstToken)
                return others.count == 1 && others[0].id != first.id
            }
            for member in members where member.id != first.id { member.node.shutdown() }
        }
        await client.shutdown()
    }
}

extension HotColdRoleTests {
    /// Two groups in one cluster: `ledger` on h1 alone, `orders` on h2 and h3. Whichever node
    /// leads Raft, the other group's members must still get a hot replica.
    @Test
    func everyGroupOfTheClusterGetsAHotReplicaWhereverRaftLeads() async throws {
        let logger = Logger(label: "test", level: .warning, handler: LogfmtHandler(sink: MemoryLogSink()))
        var directories: [String] = []
        defer { for directory in directories { try? FileManager.default.removeItem(atPath: directory) } }
        let client = HTTPClient()
        try await withNodes { started, nodes in
            let members = try await startCluster(groups: [("h1", "ledger"), ("h2", "orders"), ("h3", "orders")], logger: logger,
                                                 client: client, started: started, directories: &directories, nodes: &nodes)
            func hot(in group: LeaseGroup) -> [NodeID] {
                members.filter { $0.role.configuration.group == group && $0.role.shell?.gate.fencingToken() != nil }.map(\.id)
            }
            try await waitUntil("one hot replica in each group", timeout: Self.timeout) {
                hot(in: "ledger").count == 1 && hot(in: "orders").count == 1
            }
            // A move to an unknown node or to a replica of another group is refused, and the
            // orders hot keeps the lease: no move target is recorded, nobody steps down.
            let orders = members[1]
            let hotBefore = try #require(members.first { $0.id == hot(in: "orders").first })
            let token = try #require(hotBefore.role.shell?.gate.fencingToken())
            try await waitUntil("h2 to know the orders replicas and the members", timeout: Self.timeout) {
                await orders.role.shell?.knownCandidates.filter(\.isEligible).count == 2
            }
            for (target, status) in [("nobody", 404), ("h1", 409)] {
                let answer = try await client.send(HTTPClientRequest(method: "POST", url: orders.url + "/hot/move?to=\(target)"))
                let json = try? JSONValue.parse(answer.body)
                #expect(answer.status == status, "move to \(target): \(answer.bodyText)")
                #expect(json?["target"]?.stringValue == target && json?["error"]?.stringValue?.contains(target) == true)
                #expect(json?["eligible"]?.arrayValue?.compactMap(\.stringValue) == ["h2", "h3"], "\(answer.bodyText)")
                let record = try #require(orders.node.keyValue(KVKey("hot-cold", "lease/orders")))
                let state = try LeaseRecord.decodeState(record.value)
                #expect(state.moveTo == nil && state.token == token, "\(state)")
                #expect(hotBefore.role.shell?.gate.fencingToken() == token)
            }
        }
        await client.shutdown()
    }
}
