import DiscoCore
import DiscoSystem
import DiscoNet
import DiscoTestKit
import Foundation
import Testing
@testable import Bootstrap

@Suite struct PromiseFileTests {
    let a = BootstrapPeer(id: "a", raftAddress: "10.0.0.1:4002", apiAddress: "10.0.0.1:4001")

    @Test func savesLoadsAndReleases() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = PromiseFile(path: directory.file("bootstrap-promise.json"))
        #expect(try file.load() == nil, "no file yet: no promise")
        let proposal = Proposal(id: ProposalID(proposer: "a", sequence: 3), cluster: "disco", expect: 1, voters: [a])
        try file.save(proposal)
        #expect(try file.load() == proposal)
        try file.save(nil)
        #expect(try file.load() == nil)
        #expect(!FileManager.default.fileExists(atPath: file.path + ".tmp"))
    }

    @Test func aDamagedFileIsAnErrorNamingIt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("bootstrap-promise.json")
        try Data(#"{"promise":{"proposer":"a"}}"#.utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try PromiseFile(path: path).load()
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains(path) && error.description.contains(#""promise.sequence" is missing"#), "\(error)")
        }
    }

    @Test func aPromiseSurvivesARestartOfTheShell() async throws {
        let formation = try await LoopbackFormation(count: 1)
        let node = formation.nodes[0]
        let proposer = BootstrapPeer(id: "node-0", raftAddress: "127.0.0.1:29002", apiAddress: "127.0.0.1:1")
        let proposal = Proposal(id: ProposalID(proposer: "node-0", sequence: 5), cluster: "disco", expect: 3,
                                voters: [proposer, node.peer, BootstrapPeer(id: "node-2", raftAddress: "127.0.0.1:29003", apiAddress: "127.0.0.1:2")])
        let reply = await BootstrapClient().propose(proposal, to: node.peer, timeout: .seconds(30))
        #expect(try reply.get() == .accepted)
        await node.shell.shutdown()

        // A new shell on the same file: promised again, to the same proposal.
        let path = formation.directory.file("promise-\(node.peer.id).json")
        var settings = BootstrapEngine.Settings(me: node.peer, cluster: "disco", expect: 3, selfAddresses: [node.address])
        settings.timeout = nil
        let restarted = try BootstrapShell(
            configuration: .init(settings: settings, seed: 9, promiseFile: PromiseFile(path: path)),
            hooks: .init(lookup: { .success([]) }, bootstrap: { _ in }),
            logger: Logger(label: "bootstrap", handler: LogfmtHandler(sink: MemoryLogSink())))
        #expect(await restarted.promise == proposal)
        #expect(restarted.progress.state == .promised)
        // Another proposer is refused while the promise holds.
        let other = Proposal(id: ProposalID(proposer: "node-1", sequence: 1), cluster: "disco", expect: 3, voters: [node.peer])
        let refusal = await restarted.handle(HTTPRequest(method: "POST", target: "/bootstrap/propose", body: BootstrapWire.encode(other)))
        #expect(refusal?.status == 409)
        // The proposer abandons: released, on disk too.
        let released = await restarted.handle(HTTPRequest(method: "POST", target: "/bootstrap/abandon",
                                                          body: BootstrapWire.encodeAbandon(proposal.id)))
        #expect(released?.status == 200)
        #expect(await restarted.promise == nil)
        #expect(try PromiseFile(path: path).load() == nil)
        await formation.shutdown()
    }
}
