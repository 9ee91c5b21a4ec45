import DiscoCore
import DiscoNet
import DiscoSystem
@testable import DiscoRaft
import DiscoTestKit
import Synchronization
import Testing

/// A peer that restarts on the same address: the connection to its old process is dead, and the
/// next message must reach the new process, not vanish into the old connection.
@Suite("RaftTransport peer restart", .serialized)
struct PeerRestartDeliveryTests {
    func start(_ id: NodeID, port: UInt16, book: TestAddressBook, inbox: Inbox) async throws -> RaftTransport {
        var options = RaftTransportOptions()
        options.maxBackoff = .milliseconds(100)
        let transport = try await RaftTransport.start(localID: id, port: port, addressBook: book.book, options: options,
                                                      logger: Logger(label: "t", level: .error, handler: LogfmtHandler(sink: MemoryLogSink()))) {
            inbox.deliver($0)
        }
        book.set(id, transport.listenAddress)
        return transport
    }

    func heartbeat(_ context: UInt64) -> Message {
        Message(from: "a", to: "b", term: 1, body: .heartbeat(commit: 0, context: context))
    }

    @Test("the first message after a peer restarts on the same address reaches the new process")
    func firstMessageAfterRestartArrives() async throws {
        let book = TestAddressBook()
        let a = try await start("a", port: 0, book: book, inbox: Inbox())
        let firstInbox = Inbox()
        // b's port comes from below the ephemeral range: a port the OS picked could be taken,
        // while b is down, as the source port of another test's outgoing connection.
        let first = try await start("b", port: try FreePort.loopback(), book: book, inbox: firstInbox)
        let port = first.listenAddress.port
        a.send(heartbeat(1))
        try await waitUntil("b to get the first heartbeat") { firstInbox.received.count == 1 }
        await first.close()

        let secondInbox = Inbox()
        var second: RaftTransport?
        try await waitUntil("b to listen on port \(port) again") {
            second = try? await start("b", port: port, book: book, inbox: secondInbox)
            return second != nil
        }
        a.send(heartbeat(2))
        try await waitUntil("the restarted b to get the heartbeat sent after its restart", timeout: .seconds(30)) {
            !secondInbox.received.isEmpty
        }
        #expect(a.metrics.messagesDropped == 0)
        await a.close()
        await second?.close()
    }
}
