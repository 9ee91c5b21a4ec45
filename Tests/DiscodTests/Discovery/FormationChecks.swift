import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Formation checks shared by the discovery process tests

/// Starting clusters of real `discod` processes and waiting until they form exactly one cluster.
enum FormationChecks {
    /// Waits until every node names the same leader, reports the same cluster name and epoch, and
    /// lists exactly the IDs of `nodes` in `GET /nodes`: one cluster made of these nodes and no
    /// other. Returns the leader.
    @discardableResult
    static func waitForOneCluster(_ nodes: [DiscodProcess], timeout: Duration = .seconds(120)) async throws -> DiscodProcess {
        let expected = nodes.map(\.nodeID).sorted()
        var leaderID: String
        do {
            leaderID = try await DiscodCluster.waitForLeader(nodes, timeout: timeout)
        } catch {
            throw FormationFailure(description: "\(error)\n" + outputs(nodes))
        }
        do {
            try await waitUntil("every node to list the members \(expected) and agree on the leader and the cluster epoch", timeout: timeout,
                                pollEvery: .milliseconds(200)) {
                try throwIfExited(nodes)
                for node in nodes where await node.memberIDs() != expected { return false }
                // Joined nodes start as learners; the cluster is whole once all of them vote.
                for node in nodes where await node.voterIDs() != expected { return false }
                var leaders = Set<String>()
                for node in nodes { leaders.insert(await node.leaderID() ?? "none") }
                guard leaders.count == 1, let agreed = leaders.first, agreed != "none" else { return false }
                leaderID = agreed
                // The replicated cluster identity: one name and one epoch on every node.
                var identities = Set<String>()
                for node in nodes {
                    guard let cluster = try? await node.status()["cluster"], cluster["epoch"]?.numberValue != nil else { return false }
                    identities.insert(cluster.encoded())
                }
                return identities.count == 1
            }
        } catch let timeout as WaitTimeout {
            var report = "\(timeout)\n"
            for node in nodes {
                report += "--- node \(node.nodeID) members \(await node.memberIDs() ?? []), leader \(await node.leaderID() ?? "none"):\n"
                report += String(node.process.output.suffix(4000)) + "\n"
            }
            throw FormationFailure(description: report)
        }
        guard let leader = nodes.first(where: { $0.nodeID == leaderID }) else {
            throw FormationFailure(description: "the agreed leader \(leaderID) is not one of \(expected)")
        }
        return leader
    }

    /// Waits until every node in `nodes` names the same leader and that leader is one of them
    /// (after a leader was killed, the survivors first still name it). Returns the new leader.
    static func waitForNewLeader(among nodes: [DiscodProcess], timeout: Duration = .seconds(120)) async throws -> DiscodProcess {
        var leader: DiscodProcess?
        do {
            try await waitUntil("\(nodes.map(\.nodeID)) to agree on a leader among themselves", timeout: timeout,
                                pollEvery: .milliseconds(100)) {
                try throwIfExited(nodes)
                var leaders = Set<String>()
                for node in nodes { leaders.insert(await node.leaderID() ?? "none") }
                guard leaders.count == 1, let agreed = leaders.first else { return false }
                leader = nodes.first { $0.nodeID == agreed }
                return leader != nil
            }
        } catch let timeout as WaitTimeout {
            throw FormationFailure(description: "\(timeout)\n" + outputs(nodes))
        }
        guard let leader else { throw FormationFailure(description: "no leader among \(nodes.map(\.nodeID))") }
        return leader
    }

    /// The tail of every node's output, for failure messages.
    static func outputs(_ nodes: [DiscodProcess]) -> String {
        nodes.map { "--- node \($0.nodeID):\n\($0.process.output.suffix(6000))" }.joined(separator: "\n")
    }

    /// Throws with the node's output when one of `nodes` has exited.
    static func throwIfExited(_ nodes: [DiscodProcess]) throws {
        for node in nodes where !node.process.isRunning {
            throw FormationFailure(description: "node \(node.nodeID) exited with \(node.process.exitStatus ?? -1):\n\(node.process.output)")
        }
    }

    /// The `api_addr` of every row of this node's `GET /nodes`, sorted.
    static func memberAPIAddresses(_ node: DiscodProcess) async throws -> [String] {
        let answer = try await firstAnswer("GET /nodes on node \(node.nodeID)") { try await node.request("GET", "/nodes") }
        let rows = try #require(answer.json?.arrayValue, "GET /nodes answered \(answer.status): \(answer.text)")
        return rows.compactMap { $0["api_addr"]?.stringValue }.sorted()
    }

    /// The discovery targets this node reports in `GET /status`, as text.
    static func discoveryTargets(_ node: DiscodProcess) async throws -> [String] {
        let status = try await node.status()
        return (status["discovery"]?["targets"]?.arrayValue ?? []).map { $0.stringValue ?? $0.encoded() }
    }

    /// How many of `nodes` logged `text`.
    static func count(_ nodes: [DiscodProcess], logging text: String) -> Int {
        nodes.filter { $0.process.output.contains(text) }.count
    }
}

/// A failed formation check, with the nodes' output that explains it.
struct FormationFailure: Error, CustomStringConvertible {
    let description: String
}
