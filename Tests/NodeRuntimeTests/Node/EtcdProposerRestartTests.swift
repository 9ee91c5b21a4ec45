import Bootstrap
import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
@testable import NodeRuntime
import Testing

// MARK: - With -consensus etcd, a restarted proposer never disowns the proposal it bootstrapped

@Suite("Node: a restarted -bootstrap-expect proposer on etcd", .serialized)
struct EtcdProposerRestartTests {
    /// Two `-consensus etcd` voters form a cluster with `-bootstrap-expect 2`; both stop, etcd
    /// stops, and the proposer starts again alone with its promise file. Its cluster state lives
    /// in etcd, which it cannot read yet: asked what became of its proposal, it must not answer
    /// "abandoned" (that releases a promised node that has not reached the cluster yet), but
    /// "pending" until it knows. Once etcd is back it answers "bootstrapped".
    @Test func theRestartedProposerDoesNotDisownItsProposalBeforeReadingEtcd() async throws {
        let etcd = try await EtcdFixture.start(members: 1)
        let key = "disco-\(UUID().uuidString.prefix(8))"
        var first = try TestNodeSetup(id: "p1", prefix: "disco-etcd-proposer")
        var second = try TestNodeSetup(id: "p2", prefix: "disco-etcd-proposer")
        let client = HTTPClient()
        var nodes: [RunningNode] = []
        defer {
            first.removeDirectory()
            second.removeDirectory()
        }
        do {
            let endpoints = try etcd.endpoints.map { try PeerAddress(parsing: $0) }
            let targets = [PeerAddress(host: "127.0.0.1", port: first.httpPort), PeerAddress(host: "127.0.0.1", port: second.httpPort)]
            let consensus = ConsensusChoice.etcd(EtcdKVConfig(endpoints: endpoints), key: key)
            Self.formWithExpectTwo(&first.configuration, consensus: consensus, targets: targets)
            Self.formWithExpectTwo(&second.configuration, consensus: consensus, targets: targets)
            let one = try await RunningNode.start(first.configuration, components: NodeComponents.etcd)
            nodes.append(one)
            let two = try await RunningNode.start(second.configuration, components: NodeComponents.etcd)
            nodes.append(two)
            let promise = try await ProposerPair.agreeThenStop(one, two, promiseOf: first)
            nodes = []
            await etcd.stopMember(0)

            let restarted = try await RunningNode.start(first.configuration, components: NodeComponents.etcd)
            nodes.append(restarted)
            let url = first.apiURL + "/bootstrap/status?" + BootstrapWire.statusQuery(promise.id)
            let whileEtcdIsDown = try await Self.status(at: url, client: client)
            #expect(whileEtcdIsDown == .pending, "with etcd unreachable the restarted proposer answered \(whileEtcdIsDown) for \(promise.id)")

            try await etcd.restartMember(0)
            try await waitUntil("the restarted proposer to see its cluster in etcd again", timeout: .seconds(60)) {
                restarted.node.consensus.status.leader != nil
            }
            let afterwards = try await Self.status(at: url, client: client)
            #expect(afterwards == .bootstrapped, "once it read etcd the restarted proposer answered \(afterwards) for \(promise.id)")
        } catch {
            for node in nodes { await node.stop() }
            await client.shutdown()
            await etcd.stop()
            throw error
        }
        for node in nodes { await node.stop() }
        await client.shutdown()
        await etcd.stop()
    }

    private static func formWithExpectTwo(_ configuration: inout NodeConfiguration, consensus: ConsensusChoice, targets: [PeerAddress]) {
        configuration.consensus = consensus
        configuration.formation.plan = .bootstrapExpect
        configuration.formation.bootstrapExpect = 2
        configuration.formation.join = targets
    }

    /// The first 200 answer of `GET /bootstrap/status` at `url`.
    private static func status(at url: String, client: HTTPClient) async throws -> ProposalStatus {
        var body: [UInt8] = []
        try await waitUntil("an answer to GET /bootstrap/status", timeout: .seconds(60)) {
            guard let response = try? await client.send(HTTPClientRequest(url: url)), response.status == 200 else { return false }
            body = response.body
            return true
        }
        return try BootstrapWire.decodeStatus(status: 200, body: body)
    }
}
