import DiscoCore
import DiscoSystem
import DiscoNet
import Foundation
import Synchronization
@testable import Bootstrap

// MARK: - Temporary directory

/// A fresh directory under /tmp, removed by ``remove()``.
struct TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = "/tmp/disco-bootshell-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

// MARK: - Locked

/// A value shared between tasks behind a mutex (a class, so closures can capture it).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }

    var value: Value { mutex.withLock { $0 } }
}

// MARK: - LoopbackFormation

/// N bootstrap shells, each behind its own real HTTP server on loopback, with a fake Raft:
/// a bootstrap records the voters, makes them members and tells the other voters' shells that
/// they are clustered; `POST /join` to a member answers 200, to anyone else 503.
final class LoopbackFormation: Sendable {
    struct Node: Sendable {
        let peer: BootstrapPeer
        let address: PeerAddress
        let server: HTTPServer
        let shell: BootstrapShell
    }

    struct RaftRecord: Sendable {
        var bootstraps: [[BootstrapPeer]] = []
        var members: Set<NodeID> = []
        var leader: BootstrapPeer?
        /// (receiver, sender) of every notify.
        var notifies: [(NodeID, NodeID)] = []
    }

    let nodes: [Node]
    let raft: Locked<RaftRecord>
    let sink = MemoryLogSink()
    let directory: TemporaryDirectory

    /// Starts `count` servers and shells; `expect(i)` gives node i's `-bootstrap-expect`, and
    /// `extraTargets` are added to every node's discovery answer.
    init(count: Int, expect: @Sendable (Int) -> Int = { _ in 3 }, extraTargets: [PeerAddress] = [],
         tune: @Sendable (inout BootstrapShell.Configuration) -> Void = { _ in }) async throws {
        let raft = Locked(RaftRecord())
        let shells = Locked<[NodeID: BootstrapShell]>([:])
        let directory = try TemporaryDirectory()
        self.raft = raft
        self.directory = directory
        var servers: [(HTTPServer, BootstrapPeer)] = []
        for index in 0..<count {
            // IDs in reverse start order, so the smallest ID is not the first node set up.
            guard let id = NodeID("node-\(count - index)") else { throw CocoaError(.coderInvalidValue) }
            let server = try await HTTPServer.start { request in
                if request.path == "/join" { return Self.answerJoin(request, node: id, raft: raft) }
                if request.path == "/notify", let notify = try? BootstrapWire.decodeNotifyRequest(request.body) {
                    raft.withLock { $0.notifies.append((id, notify.sender.id)) }
                }
                guard let shell = shells.withLock({ $0[id] }), let response = await shell.handle(request) else {
                    return HTTPResponse(status: 404, bytes: BootstrapWire.errorBody("no route"))
                }
                return response
            }
            let port = server.localAddress.port
            servers.append((server, BootstrapPeer(id: id, raftAddress: "127.0.0.1:\(20000 + index)", apiAddress: "127.0.0.1:\(port)")))
        }
        let addresses = servers.map { PeerAddress(host: "127.0.0.1", port: UInt16($0.0.localAddress.port)) } + extraTargets
        let logger = Logger(label: "bootstrap", level: .debug, handler: LogfmtHandler(sink: sink))
        var nodes: [Node] = []
        for (index, (server, peer)) in servers.enumerated() {
            let own = PeerAddress(host: "127.0.0.1", port: UInt16(server.localAddress.port))
            var settings = BootstrapEngine.Settings(me: peer, cluster: "disco", expect: expect(index), selfAddresses: [own])
            settings.timeout = nil
            var configuration = BootstrapShell.Configuration(
                settings: settings, seed: UInt64(index + 1), promiseFile: PromiseFile(path: directory.file("promise-\(peer.id).json")))
            tune(&configuration)
            let hooks = BootstrapShell.Hooks(
                lookup: { .success(addresses) },
                bootstrap: { voters in
                    raft.withLock { record in
                        record.bootstraps.append(voters)
                        record.members.formUnion(voters.map(\.id))
                        record.leader = voters.first
                    }
                    // Raft would replicate the configuration to the other voters.
                    for voter in voters where voter.id != peer.id {
                        if let shell = shells.withLock({ $0[voter.id] }) { await shell.clusterFormed() }
                    }
                })
            let shell = try BootstrapShell(configuration: configuration, hooks: hooks, logger: logger)
            shells.withLock { $0[peer.id] = shell }
            nodes.append(Node(peer: peer, address: own, server: server, shell: shell))
        }
        self.nodes = nodes
    }

    /// The fake leader's `/join`: members accept (naming the leader), others have no leader yet.
    static func answerJoin(_ request: HTTPRequest, node: NodeID, raft: Locked<RaftRecord>) -> HTTPResponse {
        guard let join = try? BootstrapWire.decodeJoinRequest(request.body) else {
            return HTTPResponse(status: 400, bytes: BootstrapWire.errorBody("bad join"))
        }
        let leader: BootstrapPeer? = raft.withLock { record in
            guard record.members.contains(node), let leader = record.leader else { return nil }
            record.members.insert(join.node.id)
            return leader
        }
        guard let leader else { return HTTPResponse(status: 503, bytes: BootstrapWire.errorBody("no leader yet; retry")) }
        let accepted = JoinAccepted(leader: ClusterLeader(id: leader.id, apiAddress: leader.apiAddress, raftAddress: leader.raftAddress),
                                    cluster: "disco", epoch: 1)
        return HTTPResponse(status: 200, bytes: BootstrapWire.encode(accepted))
    }

    /// Starts every shell's `run()` at once.
    func runAll() -> [Task<BootstrapEngine.Outcome, any Error>] {
        nodes.map { node in Task { try await node.shell.run() } }
    }

    var bootstraps: [[BootstrapPeer]] { raft.withLock { $0.bootstraps } }

    var logLines: [String] { sink.lines }

    func shutdown() async {
        for node in nodes {
            await node.shell.shutdown()
            await node.server.shutdown(gracePeriod: .seconds(1))
        }
        directory.remove()
    }
}
