import DiscoCore
import DiscoNet
import DiscoSystem
@testable import DiscoRaft
import DiscoTestKit
import Testing

/// An inbound connection whose peer went silent (its host vanished without closing, or it
/// stalled inside a chunked snapshot) is closed after `inboundIdleTimeout`, not kept forever;
/// a live sender whose idle connection was closed still gets its next message through.
@Suite("RaftTransport idle inbound connections", .serialized)
struct InboundIdleTests {
    func start(_ id: NodeID, book: TestAddressBook, inbox: Inbox, idle: Duration? = nil) async throws -> RaftTransport {
        var options = RaftTransportOptions()
        options.maxBackoff = .milliseconds(100)
        if let idle { options.inboundIdleTimeout = idle }
        let transport = try await RaftTransport.start(localID: id, addressBook: book.book, options: options,
                                                      logger: Logger(label: "t", level: .error, handler: LogfmtHandler(sink: MemoryLogSink()))) {
            inbox.deliver($0)
        }
        book.set(id, transport.listenAddress)
        return transport
    }

    @Test("a silent inbound connection is closed; a sender reconnects for its next message")
    func silentConnectionIsClosed() async throws {
        let book = TestAddressBook()
        let inboxB = Inbox()
        let b = try await start("b", book: book, inbox: inboxB, idle: .milliseconds(300))
        // A peer that sent the start of a chunked message and then nothing.
        let stalled = try await TCPConnection.connect(host: "127.0.0.1", port: b.listenAddress.port)
        let chunk = Frame(type: RaftWireFormat.chunkFrameType,
                          payload: [RaftWireFormat.chunkVersion] + [UInt8](repeating: 0, count: 7) + [1] + [0, 0, 0, 0, 0, 0, 1, 0]
                              + [0, 0, 0, 0] + [UInt8](repeating: 0, count: 8) + [1, 2, 3])
        try await stalled.write(chunk.encoded())
        try await waitUntil("b to accept the connection") { b.metrics.inboundConnections == 1 }
        try await waitUntil("b to close the silent connection", timeout: .seconds(30)) { b.openInboundConnections == 0 }
        stalled.close()

        let a = try await start("a", book: book, inbox: Inbox())
        a.send(Message(from: "a", to: "b", term: 1, body: .heartbeat(commit: 0, context: 1)))
        try await waitUntil("the first heartbeat") { inboxB.received.count == 1 }
        try await waitUntil("b to close a's idle connection", timeout: .seconds(30)) { b.openInboundConnections == 0 }
        a.send(Message(from: "a", to: "b", term: 1, body: .heartbeat(commit: 0, context: 2)))
        try await waitUntil("the heartbeat after the idle close", timeout: .seconds(30)) { inboxB.received.count == 2 }
        await a.close()
        await b.close()
    }
}
