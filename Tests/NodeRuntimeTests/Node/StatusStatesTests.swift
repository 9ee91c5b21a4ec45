import Bootstrap
import DiscoCore
import DiscoNet
import DiscoRaft
import DiscoSWIM
import DiscoSystem
import DiscoTestKit
import Foundation
@testable import NodeRuntime
import Testing

// MARK: - Roles, states and formation are enums; the JSON shows the same words as before

@Suite struct StatusStatesTests {
    @Test func everyEngineStateMapsToTheWordStatusShows() {
        let roles: [RaftRole] = [.follower, .preCandidate, .candidate, .leader]
        #expect(roles.map { RaftConsensus.role($0).rawValue } == roles.map(\.rawValue))
        let statuses: [SWIM.MemberStatus] = [.alive, .suspect, .dead, .left]
        #expect(statuses.map { SWIMMembership.state($0).rawValue } == statuses.map(\.description))
        #expect(statuses.map { SWIMMembership.state($0).isLive } == statuses.map(\.isLive))
        #expect(FormationState.allCases.map(\.rawValue)
                == ["starting", "bootstrapping", "joining", "rejoining", "registering", "clustered", "failed"])
        #expect(BootstrapProgress.State.allCases.map(\.rawValue)
                == ["idle", "seeking", "proposing", "promised", "stopped", "joined", "bootstrapped", "clustered", "existing-state", "timed-out"])
    }

    /// A single node's `/status`, `/nodes` and `/metrics` after it formed its cluster.
    @Test func statusShowsRoleFormationAndGossipStateAsText() async throws {
        let setup = try TestNodeSetup(id: "s1", prefix: "disco-states")
        defer { setup.removeDirectory() }
        let http = setup.httpPort
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        var status: JSONValue?
        try await waitUntil("the node to report itself clustered and leading") {
            let answer = try? await client.send(HTTPClientRequest(url: "http://127.0.0.1:\(http)/status"))
            status = answer.flatMap { try? JSONValue.parse($0.body) }
            return status?["bootstrap"]?["state"]?.stringValue == "clustered" && status?["node"]?["state"]?.stringValue == "leader"
        }
        #expect(status?["members"]?.arrayValue?.first?["swim"]?.stringValue == "alive")
        let nodes = try JSONValue.parse(try await client.send(HTTPClientRequest(url: "http://127.0.0.1:\(http)/nodes")).body)
        #expect(nodes.arrayValue?.first?["reachable"]?.boolValue == true)
        let metrics = try await client.send(HTTPClientRequest(url: "http://127.0.0.1:\(http)/metrics")).bodyText
        #expect(metrics.contains("disco_members{state=\"alive\"} 1\ndisco_members{state=\"dead\"} 0\ndisco_members{state=\"left\"} 0\ndisco_members{state=\"suspect\"} 0\n"), "\(metrics)")
        #expect(metrics.contains("# TYPE disco_swim_node_id_conflicts_total counter\ndisco_swim_node_id_conflicts_total 0\n"), "\(metrics)")
        await client.shutdown()
        #expect(await running.stop() == nil)
    }
}
