import DiscoCore
import DiscoSystem
import DiscoNet
@testable import DiscoRaft
import DiscoTestKit
import Synchronization
import Testing

// MARK: - Helpers

/// A frame type no Raft node sends (SWIM's push-pull).
private let pushPullType: UInt8 = 0x53

/// Records what a foreign-frame handler saw.
private final class HandlerLog: Sendable {
    private let state = Mutex<(frames: [Frame], running: Int, cancelled: Int)>(([], 0, 0))

    func received(_ frame: Frame) { state.withLock { $0.frames.append(frame) } }
    func enter() { state.withLock { $0.running += 1 } }
    func leave(cancelled: Bool) {
        state.withLock {
            $0.running -= 1
            if cancelled { $0.cancelled += 1 }
        }
    }

    var frames: [Frame] { state.withLock { $0.frames } }
    var running: Int { state.withLock { $0.running } }
    var cancelled: Int { state.withLock { $0.cancelled } }
}

/// Answers every frame on the connection with the same type and the payload reversed, until the
/// peer closes it.
private func echoHandler(_ log: HandlerLog) -> RaftForeignFrameHandler {
    { first, connection in
        defer { connection.close() }
        log.received(first)
        do {
            try await connection.send(Frame(type: first.type, payload: first.payload.reversed()))
            for try await frame in connection.frames() {
                log.received(frame)
                try await connection.send(Frame(type: frame.type, payload: frame.payload.reversed()))
            }
        } catch {}
    }
}

private func startTransport(_ id: NodeID, book: TestAddressBook, sink: MemoryLogSink = MemoryLogSink(),
                            otherFrames: RaftForeignFrameHandler?) async throws -> (RaftTransport, Inbox) {
    var options = RaftTransportOptions()
    options.maxBackoff = .milliseconds(100)
    let inbox = Inbox()
    let transport = try await RaftTransport.start(
        localID: id, addressBook: book.book, options: options,
        logger: Logger(label: "raft-transport", level: .info, handler: LogfmtHandler(sink: sink)),
        otherFrames: otherFrames) { inbox.deliver($0) }
    book.set(id, transport.listenAddress)
    return (transport, inbox)
}

private func heartbeat(_ from: NodeID, _ to: NodeID, _ context: UInt64) -> Message {
    Message(from: from, to: to, term: 1, body: .heartbeat(commit: 0, context: context))
}

/// The next frame the peer sends on `connection`.
private func reply(on connection: FramedConnection) async throws -> Frame? {
    var frames = connection.frames().makeAsyncIterator()
    return try await frames.next()
}

// MARK: - Another protocol on the internode port

@Suite("RaftTransport: other protocols on the port", .serialized, .timeLimit(.minutes(2)))
struct ForeignFrameTests {
    @Test("a connection opening with a non-Raft frame goes to the handler, which answers on it; Raft traffic is unaffected")
    func handedOver() async throws {
        let book = TestAddressBook()
        let log = HandlerLog()
        let (a, _) = try await startTransport("a", book: book, otherFrames: nil)
        let (b, inboxB) = try await startTransport("b", book: book, otherFrames: echoHandler(log))
        a.send(heartbeat("a", "b", 1))
        try await waitUntil("the first Raft message at b") { inboxB.received.count == 1 }

        let client = try await FramedConnection.connect(host: "127.0.0.1", port: b.listenAddress.port)
        try await client.send(Frame(type: pushPullType, payload: Array("ping".utf8)))
        #expect(try await reply(on: client) == Frame(type: pushPullType, payload: Array("gnip".utf8)))
        // The handler keeps the connection: a second exchange works too.
        try await client.send(Frame(type: 0x54, payload: [1, 2, 3]))
        #expect(try await reply(on: client) == Frame(type: 0x54, payload: [3, 2, 1]))
        #expect(log.frames.map(\.type) == [pushPullType, 0x54])

        // Raft keeps flowing on the other connection meanwhile.
        for context in 2...50 { a.send(heartbeat("a", "b", UInt64(context))) }
        try await waitUntil("49 more Raft messages at b") { inboxB.received.count == 50 }
        #expect(b.metrics.connectionsHandedOver == 1)
        #expect(b.metrics.badFrames == 0)
        #expect(b.metrics.messagesReceived == 50)
        #expect(a.metrics.connects == 1)

        client.close()
        try await waitUntil("the handed-over connection released") { log.running == 0 && b.openInboundConnections == 1 }
        await a.close()
        await b.close()
    }

    @Test("a Raft connection that later sends a foreign frame is still refused; so is one without a handler")
    func refusedWithoutHandler() async throws {
        let book = TestAddressBook()
        let log = HandlerLog()
        let (withHandler, _) = try await startTransport("b", book: book, otherFrames: echoHandler(log))
        let (without, _) = try await startTransport("c", book: book, otherFrames: nil)

        let first = try RawSocketClient(connectTo: try #require(SocketAddress(numericHost: "127.0.0.1", port: without.listenAddress.port)))
        try first.send(Frame(type: pushPullType, payload: [1]).encoded())
        #expect(try await first.isClosedByPeer())
        try await waitUntil("the frame refused by the node without a handler") { without.metrics.badFrames == 1 }

        // Only the first frame of a connection may switch protocols.
        let target = try #require(SocketAddress(numericHost: "127.0.0.1", port: withHandler.listenAddress.port))
        let second = try RawSocketClient(connectTo: target)
        try second.send(RaftWireFormat.frames(for: heartbeat("a", "b", 1), transferID: 1)[0].encoded()
                        + Frame(type: pushPullType, payload: [1]).encoded())
        #expect(try await second.isClosedByPeer())
        try await waitUntil("the late foreign frame refused") { withHandler.metrics.badFrames == 1 }
        #expect(withHandler.metrics.messagesReceived == 1)

        // A foreign first frame with more bytes right behind it cannot be handed over intact.
        let third = try RawSocketClient(connectTo: target)
        try third.send(Frame(type: pushPullType, payload: [1]).encoded() + Frame(type: pushPullType, payload: [2]).encoded())
        #expect(try await third.isClosedByPeer())
        try await waitUntil("the pipelined foreign frames refused") { withHandler.metrics.badFrames == 2 }
        #expect(log.frames.isEmpty)
        #expect(withHandler.metrics.connectionsHandedOver == 0)
        await withHandler.close()
        await without.close()
    }

    @Test("closing the transport cancels a handler still running and closes its connection")
    func closeCancelsHandler() async throws {
        let book = TestAddressBook()
        let log = HandlerLog()
        let (b, _) = try await startTransport("b", book: book) { frame, connection in
            log.enter()
            log.received(frame)
            // Never answers: iterating a stream nobody feeds ends only when the task is cancelled.
            let (silence, _) = AsyncStream.makeStream(of: Never.self)
            for await _ in silence {}
            log.leave(cancelled: Task.isCancelled)
        }
        let client = try await FramedConnection.connect(host: "127.0.0.1", port: b.listenAddress.port)
        try await client.send(Frame(type: pushPullType, payload: [7]))
        try await waitUntil("the handler running") { log.running == 1 }
        #expect(b.openInboundConnections == 1)
        await b.close()
        #expect(log.running == 0)
        #expect(log.cancelled == 1)
        #expect(b.openInboundConnections == 0)
        let answer = try? await reply(on: client)
        #expect(answer == nil)  // the connection was closed (or reset), not answered
        client.close()
    }
}
