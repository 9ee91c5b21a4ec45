import DiscoCore
import DiscoSystem
import DiscoNet
@testable import DiscoRaft
import DiscoTestKit
import Synchronization
import Testing

// MARK: - Helpers

/// Collects what a transport delivers.
final class Inbox: Sendable {
    private let messages = Mutex<[Message]>([])
    func deliver(_ message: Message) { messages.withLock { $0.append(message) } }
    var received: [Message] { messages.withLock { $0 } }
}

private func quietLogger(_ sink: MemoryLogSink = MemoryLogSink()) -> Logger {
    Logger(label: "raft-transport", level: .info, handler: LogfmtHandler(sink: sink))
}

/// A transport for `id` on loopback (back-off up to 100 ms), listening at the address `book` gives
/// for it, delivering into the returned inbox.
func startTransport(_ id: NodeID, book: TestAddressBook, options: RaftTransportOptions = RaftTransportOptions(),
                            sink: MemoryLogSink = MemoryLogSink()) async throws -> (RaftTransport, Inbox) {
    var options = options
    options.maxBackoff = .milliseconds(100)
    let inbox = Inbox()
    let transport = try await RaftTransport.start(localID: id, addressBook: book.book, options: options,
                                                  logger: quietLogger(sink)) { inbox.deliver($0) }
    book.set(id, transport.listenAddress)
    return (transport, inbox)
}

private func heartbeat(_ from: NodeID, _ to: NodeID, _ context: UInt64) -> Message {
    Message(from: from, to: to, term: 1, body: .heartbeat(commit: 0, context: context))
}

// MARK: - Transport over loopback

@Suite("RaftTransport", .serialized)
struct RaftTransportTests {
    @Test("messages arrive in order, pipelined over one connection per peer")
    func delivery() async throws {
        let book = TestAddressBook()
        let (a, _) = try await startTransport("a", book: book)
        let (b, inboxB) = try await startTransport("b", book: book)
        for context in 1...500 { a.send(heartbeat("a", "b", UInt64(context))) }
        try await waitUntil("500 messages at b") { inboxB.received.count == 500 }
        #expect(inboxB.received.map { message -> UInt64 in
            if case .heartbeat(_, let context) = message.body { return context }
            return 0
        } == (1...500).map { UInt64($0) })
        #expect(a.metrics.connects == 1)
        #expect(a.metrics.messagesSent == 500)
        await a.close()
        await b.close()
    }

    @Test("a snapshot larger than a frame streams in chunks and is reassembled intact")
    func snapshotChunks() async throws {
        let book = TestAddressBook()
        var options = RaftTransportOptions()
        options.chunkSize = 4096
        let (a, _) = try await startTransport("a", book: book, options: options)
        let (b, inboxB) = try await startTransport("b", book: book, options: options)
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: 42, term: 3, config: ClusterConfig(voters: ["a", "b"])),
                                data: data)
        let message = Message(from: "a", to: "b", term: 3, body: .installSnapshot(snapshot))
        #expect(RaftWireFormat.frames(for: message, chunkSize: options.chunkSize, transferID: 1).count > 70)
        a.send(message)
        a.send(heartbeat("a", "b", 9))
        try await waitUntil("the snapshot and the heartbeat at b") { inboxB.received.count == 2 }
        #expect(inboxB.received.first == message)
        #expect(b.metrics.badFrames == 0)
        await a.close()
        await b.close()
    }

    @Test("garbage sent to the listener closes only that connection, with a logged reason")
    func garbageFrames() async throws {
        let book = TestAddressBook()
        let sink = MemoryLogSink()
        let (a, _) = try await startTransport("a", book: book)
        let (b, inboxB) = try await startTransport("b", book: book, sink: sink)
        a.send(heartbeat("a", "b", 1))
        try await waitUntil("first message") { inboxB.received.count == 1 }
        let target = try #require(SocketAddress(numericHost: "127.0.0.1", port: b.listenAddress.port))
        let garbage: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8),               // absurd frame length
            Frame(type: 77, payload: [1, 2, 3]).encoded(),                 // unknown frame type
            Frame(type: 1, payload: [1, 3, 0, 1]).encoded(),               // truncated Raft message
            [0, 0, 0, 3, 9, 1, 0],                                         // unknown frame version
            Frame(type: 2, payload: [1] + [UInt8](repeating: 0xFF, count: 28) + [1]).encoded(),  // chunk over the cap
        ]
        for bytes in garbage {
            let client = try RawSocketClient(connectTo: target)
            try client.send(bytes)
            #expect(try await client.isClosedByPeer())
        }
        try await waitUntil("every bad connection counted") { b.metrics.badFrames == garbage.count }
        #expect(sink.lines.filter { $0.contains("closing internode connection") }.count == garbage.count)
        // The good connection survived.
        a.send(heartbeat("a", "b", 2))
        try await waitUntil("second message on the same connection") { inboxB.received.count == 2 }
        #expect(a.metrics.connects == 1)
        await a.close()
        await b.close()
    }

    /// A node started with `-node-cert` meets one without: the TLS ClientHello must be named as
    /// such on the plain port, not as a frame of 369 MB.
    @Test("a TLS handshake on the plain internode port is named as TLS")
    func tlsHandshakeOnThePlainPort() async throws {
        let book = TestAddressBook()
        let sink = MemoryLogSink()
        let (b, _) = try await startTransport("b", book: book, sink: sink)
        // A real ClientHello from openssl; the port closes it without answering.
        let hello = try await ChildProcess.run(CertificateFixture.openssl, ["s_client", "-connect", "127.0.0.1:\(b.listenAddress.port)"],
                                               timeout: .seconds(30))
        #expect(hello.status != 0, "\(hello.output)")
        try await waitUntil("the connection refused") { b.metrics.badFrames == 1 }
        let lines = sink.lines.filter { $0.contains("closing internode connection") }
        #expect(lines.count == 1 && lines.allSatisfy { $0.contains("TLS handshake") && $0.contains("does not speak TLS") }, "\(lines)")
        #expect(!lines.contains { $0.contains("exceeds the limit") }, "\(lines)")
        await b.close()
    }

    @Test("a peer whose address changes is reached at the new address")
    func addressChange() async throws {
        let book = TestAddressBook()
        let (a, _) = try await startTransport("a", book: book)
        let (oldB, oldInbox) = try await startTransport("b", book: book)
        a.send(heartbeat("a", "b", 1))
        try await waitUntil("message at the old address") { oldInbox.received.count == 1 }
        // b moves while its old listener still runs: new messages must go to the new place.
        let (newB, newInbox) = try await startTransport("b", book: book)
        #expect(newB.listenAddress != oldB.listenAddress)
        var context: UInt64 = 1
        try await waitUntil("messages at the new address") {
            context += 1
            a.send(heartbeat("a", "b", context))
            return !newInbox.received.isEmpty
        }
        let countAtOld = oldInbox.received.count
        a.send(heartbeat("a", "b", 1000))
        try await waitUntil("the last message at the new address") {
            newInbox.received.contains { $0 == heartbeat("a", "b", 1000) }
        }
        #expect(oldInbox.received.count == countAtOld)
        // Then the old listener goes away and the new one moves again, to a port that opens later.
        await oldB.close()
        await newB.close()
        let (thirdB, thirdInbox) = try await startTransport("b", book: book)
        try await waitUntil("messages after reconnecting") {
            context += 1
            a.send(heartbeat("a", "b", context))
            return !thirdInbox.received.isEmpty
        }
        #expect(a.metrics.connects >= 3)
        await a.close()
        await thirdB.close()
    }

    @Test("messages for a peer without an address are dropped and counted; it is reached once the book knows it")
    func unknownPeer() async throws {
        let book = TestAddressBook()
        let (a, _) = try await startTransport("a", book: book)
        for context in 1...5 { a.send(heartbeat("a", "ghost", UInt64(context))) }
        try await waitUntil("messages for the unknown peer dropped") { a.metrics.messagesDropped == 5 }
        #expect(a.metrics.connects == 0)
        let (ghost, inbox) = try await startTransport("ghost", book: book)
        var context: UInt64 = 5
        try await waitUntil("messages at the peer once its address is known") {
            context += 1
            a.send(heartbeat("a", "ghost", context))
            return !inbox.received.isEmpty
        }
        await a.close()
        await ghost.close()
    }

    @Test("a peer that is down loses only its oldest queued messages, and is reached once it is up")
    func boundedQueue() async throws {
        let book = TestAddressBook()
        var options = RaftTransportOptions()
        options.maxQueuedMessages = 10
        let (a, _) = try await startTransport("a", book: book, options: options)
        book.set("b", PeerAddress(host: "127.0.0.1", port: 1))  // nothing listens there
        for context in 1...100 { a.send(heartbeat("a", "b", UInt64(context))) }
        // Counted as the sender gets to them (a loaded machine may run it after these sends).
        try await waitUntil("all but the newest ten to be dropped") { a.metrics.messagesDropped >= 90 }
        try await waitUntil("failed connects") { a.metrics.connectFailures >= 2 }
        let (b, inboxB) = try await startTransport("b", book: book)
        try await waitUntil("queued messages delivered") { !inboxB.received.isEmpty }
        let contexts = inboxB.received.compactMap { message -> UInt64? in
            if case .heartbeat(_, let context) = message.body { return context }
            return nil
        }
        #expect(contexts.allSatisfy { $0 > 90 })  // only the newest survived
        await a.close()
        await b.close()
    }
}
