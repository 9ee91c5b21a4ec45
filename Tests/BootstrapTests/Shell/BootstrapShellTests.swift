import DiscoCore
import DiscoSystem
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing
@testable import Bootstrap

/// Formation over real HTTP on loopback: shells, servers and a fake Raft.
@Suite(.serialized) struct BootstrapShellTests {
    func outcomes(_ tasks: [Task<BootstrapEngine.Outcome, any Error>]) async throws -> [BootstrapEngine.Outcome] {
        var results: [BootstrapEngine.Outcome] = []
        for task in tasks { results.append(try await task.value) }
        return results
    }

    @Test func threeNodesExpectingThreeBootstrapOnceWithAllThree() async throws {
        let formation = try await LoopbackFormation(count: 3)
        let runs = formation.runAll()
        try await waitUntil("every node finished formation", timeout: .seconds(60)) {
            formation.nodes.allSatisfy { $0.shell.progress.outcome != nil }
        }
        let results = try await outcomes(runs)
        let bootstraps = formation.bootstraps
        #expect(bootstraps.count == 1)
        #expect(Set(bootstraps.first?.map(\.id) ?? []) == Set(formation.nodes.map(\.peer.id)))
        #expect(results.filter { $0 == .bootstrapped }.count == 1)
        #expect(results.filter { $0 == .clustered }.count == 2)
        // Each node's own address was in its discovery answer; none notified itself.
        let notifies = formation.raft.value.notifies
        #expect(!notifies.isEmpty)
        #expect(notifies.allSatisfy { $0.0 != $0.1 })
        #expect(formation.logLines.contains { $0.contains("3/3 peers notified") })
        await formation.shutdown()
    }

    @Test func aFinishedNodeStillAnswersNotifiesWithClustered() async throws {
        let formation = try await LoopbackFormation(count: 3)
        _ = formation.runAll()
        try await waitUntil("every node finished formation", timeout: .seconds(60)) {
            formation.nodes.allSatisfy { $0.shell.progress.outcome != nil }
        }
        let late = BootstrapPeer(id: "node-9", raftAddress: "127.0.0.1:29999", apiAddress: "127.0.0.1:1")
        let reply = await BootstrapClient().notify(formation.nodes[0].address,
                                                   NotifyRequest(sender: late, cluster: "disco", expect: 3, known: [late]),
                                                   timeout: .seconds(30))
        #expect(reply == .clustered(responder: formation.nodes[0].peer))
        await formation.shutdown()
    }

    @Test func fiveNodesExpectingThreeFormOneClusterOfThreeAndTheRestJoin() async throws {
        let formation = try await LoopbackFormation(count: 5)
        let runs = formation.runAll()
        try await waitUntil("every node finished formation", timeout: .seconds(90)) {
            formation.nodes.allSatisfy { $0.shell.progress.outcome != nil }
        }
        let results = try await outcomes(runs)
        let bootstraps = formation.bootstraps
        #expect(bootstraps.count == 1, "bootstraps: \(bootstraps)")
        #expect(Set(bootstraps.first?.map(\.id) ?? []).count == 3)
        #expect(results.filter { $0 == .bootstrapped }.count == 1)
        #expect(results.filter { $0 == .clustered }.count == 2)
        #expect(results.filter { $0 == .joined }.count == 2)
        #expect(formation.raft.value.members.count == 5)
        await formation.shutdown()
    }

    @Test func mismatchedExpectIsRefusedWith409NamingBothValuesAndNothingBootstraps() async throws {
        let formation = try await LoopbackFormation(count: 2, expect: { $0 == 0 ? 2 : 3 })
        _ = formation.runAll()
        try await waitUntil("both nodes ran several rounds and saw the mismatch", timeout: .seconds(60)) {
            formation.nodes.allSatisfy { $0.shell.progress.rounds >= 3 && ($0.shell.progress.lastError ?? "").contains("-bootstrap-expect") }
        }
        #expect(formation.bootstraps.isEmpty)
        #expect(formation.nodes.allSatisfy { $0.shell.progress.outcome == nil })

        // The raw answer: 409 with both values named.
        let sender = formation.nodes[0].peer
        let body = BootstrapWire.encode(NotifyRequest(sender: sender, cluster: "disco", expect: 2, known: []))
        let response = try await HTTPClient().send(
            HTTPClientRequest(method: "POST", url: "http://\(formation.nodes[1].address)/notify", body: body), timeout: .seconds(30))
        #expect(response.status == 409)
        let message = BootstrapWire.errorMessage(in: response.body)
        #expect(message.contains("-bootstrap-expect 2") && message.contains("-bootstrap-expect 3"), "\(message)")
        await formation.shutdown()
    }

    @Test func aBlackHoledTargetDoesNotStallTheRounds() async throws {
        let hole = try await BlackHole.start()
        let formation = try await LoopbackFormation(count: 3, extraTargets: [hole.address]) { configuration in
            configuration.notifyTimeout = .milliseconds(500)
            configuration.joinTimeout = .milliseconds(500)
            configuration.settings.graceRounds = 3
        }
        let runs = formation.runAll()
        try await waitUntil("every node finished formation", timeout: .seconds(90)) {
            formation.nodes.allSatisfy { $0.shell.progress.outcome != nil }
        }
        let results = try await outcomes(runs)
        #expect(formation.bootstraps.count == 1)
        #expect(results.filter { $0 == .bootstrapped }.count == 1)
        #expect(hole.accepted > 0, "the black hole was among the targets")
        await formation.shutdown()
        hole.close()
    }

    /// Two targets that answer only once both have received the notify: sent one after the
    /// other, the first would time out (10 s) and the first round would count 2 voters, not 3.
    @Test func notifiesGoToEveryTargetAtOnce() async throws {
        let arrived = Locked(0)
        var servers: [HTTPServer] = []
        for index in 0..<2 {
            let responder = BootstrapPeer(id: NodeID("peer-\(index)") ?? "peer", raftAddress: "127.0.0.1:\(29100 + index)",
                                          apiAddress: "127.0.0.1:\(29200 + index)")
            servers.append(try await HTTPServer.start { request in
                guard request.path == "/notify" else { return HTTPResponse(status: 503, bytes: BootstrapWire.errorBody("no leader yet")) }
                arrived.withLock { $0 += 1 }
                try? await waitUntil("both targets reached", timeout: .seconds(20), pollEvery: .milliseconds(5)) { arrived.value >= 2 }
                let (status, body) = BootstrapWire.encode(NotifyReply.forming(responder: responder, known: [responder]))
                return HTTPResponse(status: status, bytes: body)
            })
        }
        let targets = servers.map { PeerAddress(host: "127.0.0.1", port: $0.localAddress.port) }
        let me = BootstrapPeer(id: "me", raftAddress: "127.0.0.1:29300", apiAddress: "127.0.0.1:29301")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = BootstrapShell.Configuration(settings: .init(me: me, cluster: "disco", expect: 3), seed: 3,
                                                         promiseFile: PromiseFile(path: directory.file("promise.json")))
        configuration.notifyTimeout = .seconds(10)
        let sink = MemoryLogSink()
        let shell = try BootstrapShell(configuration: configuration, hooks: .init(lookup: { .success(targets) }, bootstrap: { _ in }),
                                       logger: Logger(label: "bootstrap", handler: LogfmtHandler(sink: sink)))
        let run = Task { try await shell.run() }
        try await waitUntil("the first round completed", timeout: .seconds(60)) { sink.lines.contains { $0.contains("peers notified") } }
        let first = sink.lines.first { $0.contains("peers notified") } ?? ""
        #expect(first.contains("3/3 peers notified"), "\(first)")
        await shell.shutdown()
        _ = await run.result
        for server in servers { await server.shutdown(gracePeriod: .seconds(1)) }
    }

    @Test func formationEndpointsRejectBadRequestsNamingTheField() async throws {
        let formation = try await LoopbackFormation(count: 1, expect: { _ in 3 })
        let http = HTTPClient()
        let base = "http://\(formation.nodes[0].address)"
        let bad = try await http.send(HTTPClientRequest(
            method: "POST", url: base + "/notify",
            body: Array(#"{"id":"a","addr":"127.0.0.1:1","api_addr":"127.0.0.1:2","cluster":"disco","expect":"x"}"#.utf8)))
        #expect(bad.status == 400)
        #expect(BootstrapWire.errorMessage(in: bad.body) == #""expect" must be a positive integer, got "x""#)
        let wrongMethod = try await http.send(HTTPClientRequest(method: "GET", url: base + "/notify"))
        #expect(wrongMethod.status == 405)
        let status = try await http.send(HTTPClientRequest(url: base + "/bootstrap/status?proposer=node-0&sequence=7"))
        #expect(status.status == 200 && status.bodyText == #"{"status":"abandoned"}"#)
        let noSequence = try await http.send(HTTPClientRequest(url: base + "/bootstrap/status?proposer=node-0"))
        #expect(noSequence.status == 400 && noSequence.bodyText.contains("sequence"))
        #expect(await formation.nodes[0].shell.handle(HTTPRequest(method: "GET", target: "/status")) == nil)
        await formation.shutdown()
    }
}

// MARK: - BlackHole

/// A TCP listener that accepts connections and never answers on them.
final class BlackHole: Sendable {
    let listener: TCPListener
    let connections: Locked<[TCPConnection]>
    let acceptor: Task<Void, Never>

    var address: PeerAddress { PeerAddress(host: "127.0.0.1", port: listener.localAddress.port) }
    var accepted: Int { connections.value.count }

    private init(listener: TCPListener, connections: Locked<[TCPConnection]>, acceptor: Task<Void, Never>) {
        self.listener = listener
        self.connections = connections
        self.acceptor = acceptor
    }

    static func start() async throws -> BlackHole {
        let listener = try await TCPListener.bind()
        let connections = Locked<[TCPConnection]>([])
        let acceptor = Task {
            while let connection = try? await listener.accept() {
                connections.withLock { $0.append(connection) }
            }
        }
        return BlackHole(listener: listener, connections: connections, acceptor: acceptor)
    }

    func close() {
        acceptor.cancel()
        listener.close()
        for connection in connections.value { connection.close() }
    }
}
