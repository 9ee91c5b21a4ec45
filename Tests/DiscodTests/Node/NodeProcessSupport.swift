import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - The suite

/// Real `discod` processes on loopback, started with the seed's command shape
/// (`-node-id N -http-addr=… -raft-addr=… -bootstrap-expect 3 -join http://…,… DATA`).
///
/// One test at a time: each starts up to five processes and the machine is small. The nested
/// suites in this folder inherit `.serialized`.
@Suite(.serialized) struct NodeProcessTests {}

// MARK: - Starting clusters

/// Ports for one node: HTTP and Raft (SWIM shares the Raft port over UDP).
typealias NodePorts = (http: UInt16, raft: UInt16)

enum NodeTests {
    /// The seed's formation flags: `-bootstrap-expect N -join http://…,…`.
    static func seedFlags(expect: Int, join ports: [NodePorts]) -> [String] {
        ["-bootstrap-expect", "\(expect)", "-join", DiscodCluster.joinList(ports)]
    }

    /// Starts nodes "1"…"count" at once, each with `-bootstrap-expect expect -join <all of them>`.
    static func startSeedCluster(_ cluster: DiscodCluster, count: Int = 3, expect: Int = 3) throws -> (nodes: [DiscodProcess], ports: [NodePorts]) {
        let ports = try DiscodCluster.ports(count: count)
        let flags = seedFlags(expect: expect, join: ports)
        let nodes = try ports.enumerated().map { index, pair in
            try cluster.start(id: "\(index + 1)", ports: pair, flags: flags)
        }
        return (nodes, ports)
    }

    /// Starts the seed's three nodes and waits until they agree on a leader.
    static func formedSeedCluster(_ cluster: DiscodCluster) async throws -> (nodes: [DiscodProcess], ports: [NodePorts], leader: String) {
        let (nodes, ports) = try startSeedCluster(cluster)
        let leader = try await DiscodCluster.waitForLeader(nodes)
        return (nodes, ports, leader)
    }

    // MARK: Polling with the nodes' logs on failure

    /// ``DiscodCluster/waitUntil(_:watching:timeout:pollEvery:requireRunning:retryingErrors:_:)``.
    static func eventually(_ what: String, _ nodes: [DiscodProcess], timeout: Duration = .seconds(60), requireRunning: Bool = true,
                           retryingErrors: Bool = false, _ condition: () async throws -> Bool) async throws {
        try await DiscodCluster.waitUntil(what, watching: nodes, timeout: timeout, requireRunning: requireRunning,
                                          retryingErrors: retryingErrors, condition)
    }

    /// `DELETE /remove` of `target` through `leader`, sent again while it gets no answer (the
    /// request failed or timed out) or a 503 (no leader at that moment, or the outcome unknown
    /// during an election). Done at a 200, or at a 404 ("not a member", README: the API's answer
    /// for a node that is not a member) to a retry after such an attempt: that attempt removed
    /// it. A 307 to another of `nodes` (leadership moved on meanwhile) is followed, as a client
    /// follows a redirect. Anything else, a 404 to the first attempt included, fails with the answer.
    static func remove(_ target: String, via leader: DiscodProcess, watching nodes: [DiscodProcess]) async throws {
        var answer: DiscodAnswer?
        var uncertainBefore = false  // an earlier attempt got no answer or a 503: it may have removed the node
        var uncertainSoFar = false
        var via = leader
        try await eventually("DELETE /remove of node \(target) to be answered other than 503", nodes, retryingErrors: true) {
            uncertainBefore = uncertainSoFar
            uncertainSoFar = true  // an attempt that throws may still have removed the node
            let got = try await via.request("DELETE", "/remove", body: #"{"id":"\#(target)"}"#, timeout: .seconds(20))
            answer = got
            uncertainSoFar = uncertainBefore || got.status == 503
            if got.status == 307, let next = nodes.first(where: { got.location == $0.apiURL + "/remove" && $0 !== via }) {
                via = next
                return false
            }
            return got.status != 503
        }
        guard let answer else { throw NodeTestFailure("DELETE /remove of node \(target) got no answer") }
        if answer.status == 200 { return }
        if answer.status == 404, uncertainBefore, answer.text.contains("is not a member") { return }
        throw NodeTestFailure("DELETE /remove of node \(target) answered \(answer.status)"
            + (uncertainBefore ? " after an attempt with an unknown outcome" : "") + ": \(answer.text)")
    }

    static func logs(_ nodes: [DiscodProcess]) -> String { DiscodCluster.logs(nodes) }

    // MARK: Reading the API

    /// `/status` `cluster.epoch` as its JSON text, nil while unknown.
    static func epoch(of node: DiscodProcess) async -> String? {
        guard let status = try? await node.status(), let epoch = status["cluster"]?["epoch"], let number = epoch.numberValue else { return nil }
        return number.description
    }

    /// `GET /nodes` rows, nil when the node does not answer 200.
    static func nodeRows(_ node: DiscodProcess) async -> [JSONValue]? {
        guard let answer = try? await node.request("GET", "/nodes", timeout: .seconds(3)), answer.status == 200 else { return nil }
        return answer.json?.arrayValue
    }

    /// IDs of the voters in `GET /nodes`.
    static func voterIDs(_ node: DiscodProcess) async -> [String]? {
        await nodeRows(node)?.filter { $0["voter"]?.boolValue == true }.compactMap { $0["id"]?.stringValue }.sorted()
    }

    /// Appends an event through `node`, retrying while the cluster answers 503 (no leader yet,
    /// leadership moving); returns the seq. Each try has 30 s: one that timed out may still have
    /// been appended, and the next would append the event a second time.
    @discardableResult
    static func append(_ json: String, via node: DiscodProcess, others: [DiscodProcess] = []) async throws -> UInt64 {
        var seq: UInt64?
        var last = ""
        try await eventually("POST /events \(json) through node \(node.nodeID) to succeed (last answer: \(last))", [node] + others) {
            let answer = try? await node.request("POST", "/events", body: json, timeout: .seconds(30))
            last = answer.map { "\($0.status) \($0.text)" } ?? "no answer"
            guard let answer else { return false }
            if answer.status == 200 {
                seq = answer.json?["seq"]?.numberValue?.uint64Value
                return true
            }
            guard answer.status == 503 else {
                throw NodeTestFailure( "POST /events through node \(node.nodeID) answered \(last)")
            }
            return false
        }
        guard let seq else { throw NodeTestFailure( "POST /events answered 200 without a seq: \(last)") }
        return seq
    }

    /// Waits until every node's event log holds exactly `expected` (data texts, in order).
    static func waitForEvents(_ expected: [String], on nodes: [DiscodProcess], timeout: Duration = .seconds(60)) async throws {
        var seen: [String: [String]] = [:]
        do {
            try await eventually("\(expected.count) events on nodes \(nodes.map(\.nodeID))", nodes, timeout: timeout) {
                for node in nodes {
                    let data = (try? await node.eventData()) ?? []
                    seen[node.nodeID] = data
                    guard data == expected else { return false }
                }
                return true
            }
        } catch {
            throw NodeTestFailure( "expected events \(expected), last seen \(seen)\n\(error)")
        }
    }

    /// `{"test":"<name>","n":<i>}` for i in range.
    static func events(_ name: String, _ range: ClosedRange<Int>) -> [String] {
        range.map { #"{"test":"\#(name)","n":\#($0)}"# }
    }
}

/// A process test's failure, with what was seen (node logs included where useful).
struct NodeTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension NodeTests {
    /// Waits until every node in `nodes` reports the same leader and it is not `old` (survivors
    /// may report a departed leader until they notice); returns it.
    static func waitForNewLeader(_ nodes: [DiscodProcess], replacing old: String) async throws -> String {
        var agreed: String?
        try await eventually("nodes \(nodes.map(\.nodeID)) to agree on a leader other than \(old)", nodes) {
            let leaders = await nodes.asyncMap { await $0.leaderID() }
            agreed = leaders.first ?? nil
            return Set(leaders).count == 1 && agreed != nil && agreed != old
        }
        return agreed ?? ""
    }
}

extension NodeTests {
    /// The node with ID `leader` and the others, in order. (A plain loop: filtering with a
    /// closure that captures the leader ID inside these async test closures was miscompiled by
    /// Swift 6.3.1 in debug builds and returned the wrong nodes.)
    static func split(_ nodes: [DiscodProcess], leader: String) throws -> (leader: DiscodProcess, others: [DiscodProcess]) {
        var found: DiscodProcess?
        var others: [DiscodProcess] = []
        for node in nodes {
            if node.nodeID == leader { found = node } else { others.append(node) }
        }
        guard let found else { throw NodeTestFailure("leader \(leader) is not among nodes \(nodes.map(\.nodeID))") }
        return (found, others)
    }
}

// MARK: - A removed node at its next starts

extension NodeTests {
    /// `target` (stopped after it learned its removal; one of the seed cluster started on `ports`,
    /// IDs 1, 2, 3) refuses to start again without `-join`, and with `-join` to the others
    /// becomes a voter again beside `remaining`; returns it running.
    static func refusesWithoutJoinThenRejoins(_ target: DiscodProcess, in cluster: DiscodCluster, ports: [NodePorts],
                                              remaining: [DiscodProcess]) async throws -> DiscodProcess {
        let refused = try cluster.restart(target, flags: [])
        #expect(try await refused.process.waitForExit(timeout: .seconds(30)) == 1)
        #expect(refused.process.output.contains("was removed from its cluster"), Comment(rawValue: refused.process.output))
        let others = ports.enumerated().filter { "\($0.offset + 1)" != target.nodeID }.map(\.element)
        let again = try cluster.restart(target, flags: ["-join", DiscodCluster.joinList(others)])
        try await eventually("node \(target.nodeID) to vote again", remaining + [again]) {
            await voterIDs(remaining[0]) == ["1", "2", "3"]
        }
        return again
    }
}
