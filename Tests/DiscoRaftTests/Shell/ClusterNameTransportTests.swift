import DiscoCore
import DiscoNet
import DiscoSystem
@testable import DiscoRaft
import DiscoTestKit
import Testing

// MARK: - Helpers

private func start(_ id: NodeID, cluster: String?, book: TestAddressBook,
                   sink: MemoryLogSink = MemoryLogSink()) async throws -> (RaftTransport, Inbox) {
    var options = RaftTransportOptions()
    options.clusterName = cluster
    options.chunkSize = 4096
    return try await startTransport(id, book: book, options: options, sink: sink)
}

private func heartbeat(_ from: NodeID, _ to: NodeID, term: UInt64) -> Message {
    Message(from: from, to: to, term: term, body: .heartbeat(commit: 7, context: term))
}

// MARK: - The cluster name on Raft connections

/// A transport with a cluster name opens each connection with a ``RaftHello``; a receiver of
/// another cluster closes it before reading a message (a node without Raft state would follow
/// the first leader that reaches it), while senders that name no cluster (older builds) are
/// still heard.
@Suite(.serialized) struct ClusterNameTransportTests {
    /// Cluster alpha's leader sends heartbeats and a snapshot to node "3" at the address it knows,
    /// where a node of cluster beta now listens: nothing reaches beta's node, every connection
    /// is refused and counted, and the log names both clusters.
    @Test func aSenderOfAnotherClusterIsRefusedBeforeAnyMessage() async throws {
        let book = TestAddressBook()
        let logs = MemoryLogSink()
        let (beta, atBeta) = try await start("3", cluster: "beta", book: book, sink: logs)
        let (alpha, _) = try await start("1", cluster: "alpha", book: book)
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: 40, term: 9, config: ClusterConfig(voters: ["1", "2", "3"])),
                                data: (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        alpha.send(heartbeat("1", "3", term: 9))
        alpha.send(Message(from: "1", to: "3", term: 9, body: .installSnapshot(snapshot)))
        // The sender reconnects after each refusal (back-off up to 100 ms here).
        try await waitUntil("three of alpha's connections refused by beta's node") {
            if beta.metrics.clusterRefused < 3 { alpha.send(heartbeat("1", "3", term: 9)) }
            return beta.metrics.clusterRefused >= 3
        }
        #expect(atBeta.received.isEmpty, "beta's node was given \(atBeta.received)")
        #expect(beta.metrics.messagesReceived == 0)
        #expect(beta.metrics.badFrames >= 3)
        #expect(beta.metrics.unlabelledConnections == 0)
        let refusal = logs.lines.first { $0.contains("closing internode connection from 127.0.0.1:") }
        #expect(refusal?.contains(#"its Raft comes from cluster \"alpha\", this node's cluster is \"beta\""#) == true,
                "\(logs.lines)")
        await alpha.close()
        await beta.close()
    }

    /// Members of one cluster hear each other (the hello is never delivered), and so does a
    /// sender that names no cluster, as an older build does: its connection is counted.
    @Test func theSameClusterAndSendersWithoutANameAreHeard() async throws {
        let book = TestAddressBook()
        let (a, _) = try await start("a", cluster: "alpha", book: book)
        let (b, atB) = try await start("b", cluster: "alpha", book: book)
        let (old, _) = try await start("old", cluster: nil, book: book)
        a.send(heartbeat("a", "b", term: 1))
        a.send(heartbeat("a", "b", term: 2))
        try await waitUntil("a's two heartbeats at b") { atB.received.count == 2 }
        #expect(atB.received == [heartbeat("a", "b", term: 1), heartbeat("a", "b", term: 2)])
        #expect(b.metrics.unlabelledConnections == 0)
        #expect(b.metrics.messagesMisdirected == 0)

        old.send(heartbeat("old", "b", term: 3))
        try await waitUntil("the unnamed sender's heartbeat at b") { atB.received.count == 3 }
        #expect(atB.received.last == heartbeat("old", "b", term: 3))
        #expect(b.metrics.unlabelledConnections == 1)
        #expect(b.metrics.clusterRefused == 0)
        #expect(b.metrics.badFrames == 0)
        for transport in [a, b, old] { await transport.close() }
    }

    /// A receiver that names no cluster takes a named sender's messages and skips its hello.
    @Test func aReceiverWithoutANameSkipsTheHello() async throws {
        let book = TestAddressBook()
        let (named, _) = try await start("a", cluster: "alpha", book: book)
        let (unnamed, inbox) = try await start("b", cluster: nil, book: book)
        named.send(heartbeat("a", "b", term: 4))
        try await waitUntil("the heartbeat at b") { inbox.received.count == 1 }
        #expect(inbox.received == [heartbeat("a", "b", term: 4)])
        #expect(unnamed.metrics.messagesMisdirected == 0)
        #expect(unnamed.metrics.unlabelledConnections == 0)
        await named.close()
        await unnamed.close()
    }

    /// An older build reads a hello as an ordinary message frame for another node, which it
    /// drops (`message.to` is not its ID), so a rolling upgrade needs no negotiation; and were
    /// it delivered, a Raft node would do nothing with it.
    @Test func anOlderReceiverReadsTheHelloAsAMessageForAnotherNode() throws {
        let frame = try #require(RaftHello.frame(cluster: "alpha"))
        var assembler = RaftFrameAssembler()
        let message = try #require(try assembler.accept(frame))
        #expect(message.to == RaftHello.recipient)
        #expect(message.term == 0)
        #expect(RaftHello.cluster(in: frame) == "alpha")
        #expect(RaftHello.cluster(in: heartbeat("a", "b", term: 0)) == nil)
        #expect(frame.payload.count < 64)

        var node = try RaftNode(id: RaftHello.recipient, state: PersistentState(), random: DeterministicRandom(seed: 1))
        node.receive(message)
        #expect(node.term == 0)
        #expect(node.leader == nil)
    }

    /// A node named like the hello's recipient could take a message addressed to it for a
    /// hello: its transport does not start, and says why.
    @Test func theHelloRecipientIsRefusedAsANodeID() async throws {
        let error = await #expect(throws: RaftError.self) {
            _ = try await start(RaftHello.recipient, cluster: "alpha", book: TestAddressBook())
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("\"(cluster-name)\" is reserved") == true, "\(String(describing: error))")
        #expect(NodeID(stringLiteral: "cluster-name").reservationProblem == nil)
    }

    /// A shell with that ID is refused before it creates (or bootstraps) its data directory.
    @Test func aShellNamedLikeTheHelloRecipientDoesNotStart() async throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.path + "/node"
        var configuration = RaftShellConfiguration(id: RaftHello.recipient, dataDirectory: path, addressBook: TestAddressBook().book,
                                                   logger: Logger(label: "raft", handler: LogfmtHandler(sink: MemoryLogSink())))
        configuration.bootstrapVoters = [RaftHello.recipient]
        let error = await #expect(throws: RaftShellError.self) {
            _ = try await RaftNodeShell.start(configuration, stateMachine: RecordingStateMachine())
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("is reserved") == true)
        #expect(!FileIO.exists(path))
    }

    @Test func anInvalidClusterNameIsRefused() {
        var options = RaftTransportOptions()
        options.clusterName = "two words"
        #expect(throws: RaftError.self) { try options.validate() }
        options.clusterName = ""
        #expect(throws: RaftError.self) { try options.validate() }
        options.clusterName = "alpha"
        #expect(throws: Never.self) { try options.validate() }
    }
}
