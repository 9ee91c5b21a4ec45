import Dispatch
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

/// A one-shot gate a handler waits on until the test opens it.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>], arrived: Int)>((false, [], 0))

    var arrivals: Int { state.withLock { $0.arrived } }

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                state.arrived += 1
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

@Suite("HTTP server: graceful shutdown")
struct HTTPServerShutdownTests {
    @Test func shutdownFinishesInFlightRequestAndClosesIdleOnes() async throws {
        let gate = Gate()
        let server = try await HTTPServer.start { request in
            if request.path == "/slow" { await gate.wait() }
            return .text("done \(request.path)")
        }
        let idle = try connect(server)
        try idle.send("GET /quick HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try await idle.readResponse().status == 200)

        let busy = try connect(server)
        try busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        try await waitUntil("slow handler started") { gate.arrivals == 1 }

        let shutdown = Task { await server.shutdown(gracePeriod: .seconds(30)) }
        #expect(try await idle.isClosedByPeer(), "idle connection closed at once")
        try await waitUntil("listener closed") {
            (try? RawSocketClient(connectTo: server.localAddress, timeoutSeconds: 1)) == nil
        }
        gate.open()
        let response = try await busy.readResponse()
        #expect(response.bodyText == "done /slow")
        #expect(response.header("Connection") == "close")
        #expect(try await busy.isClosedByPeer())
        await shutdown.value
        #expect(server.openConnections == 0)
    }

    @Test("shutdown lets a response still being sent to a slow reader go out whole before it closes")
    func shutdownFinishesSendingAQueuedResponse() async throws {
        // More than the loopback socket buffers hold: most of it waits in the server's queue
        // while the client has not read yet.
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 32 * 1024 * 1024)
        let server = try await HTTPServer.start { _ in HTTPResponse(status: 200, body: .bytes(body)) }
        let client = try connect(server)
        try client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        // The response has begun to arrive: the handler has answered and the rest is queued.
        try await waitUntil("the response to start") { await client.waitReadable(milliseconds: 100) }
        let shutdown = Task { await server.shutdown(gracePeriod: .seconds(30)) }
        let response = try await client.readResponse()
        #expect(response.status == 200)
        #expect(response.body.count == body.count, "the response was cut short by the shutdown")
        #expect(try await client.isClosedByPeer())
        await shutdown.value
        #expect(server.openConnections == 0)
    }

    /// The listening socket is closed on its loop. Were `shutdown` to return before that loop got
    /// to it, the kernel would still complete connections into the backlog for a while, and a
    /// health check connecting right after the service stopped would find it alive.
    @Test func noConnectionIsAcceptedOnceShutdownHasReturned() async throws {
        let group = try EventLoopGroup(threads: 1, name: "shutdown-listener")
        defer { group.shutdown() }
        let server = try await HTTPServer.start(group: group) { _ in .text("ok") }
        let address = server.localAddress
        // The listener's loop is busy (as on a loaded machine) when the shutdown begins.
        let loopBusy = DispatchSemaphore(value: 0)
        group.loops[0].execute { loopBusy.wait() }
        let returned = Atomic<Bool>(false)
        let shutdown = Task { () -> Bool in
            await server.shutdown(gracePeriod: .seconds(30))
            returned.store(true, ordering: .releasing)
            return (try? RawSocketClient(connectTo: address, timeoutSeconds: 1)) != nil
        }
        // A shutdown that returns early does so now, while the loop is still busy; one that waits
        // for its listener cannot (this bounded wait then just runs out, and is not asserted on).
        try? await waitUntil("shutdown to return while the listener's loop is busy", timeout: .seconds(2)) {
            returned.load(ordering: .acquiring)
        }
        loopBusy.signal()
        let connectedAfterShutdown = await shutdown.value
        #expect(!connectedAfterShutdown, "a connection was accepted into the backlog after shutdown returned")
    }

    @Test func shutdownForceClosesAfterTheGracePeriod() async throws {
        let gate = Gate()
        let server = try await HTTPServer.start { _ in
            await gate.wait()
            return .text("late")
        }
        let busy = try connect(server)
        try busy.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        try await waitUntil("handler started") { gate.arrivals == 1 }
        // This handler ignores cancellation: its connection is force-closed after the grace
        // period, and shutdown then waits for the handler's task, which belongs to the server.
        let shutdown = Task { await server.shutdown(gracePeriod: .milliseconds(50)) }
        #expect(try await busy.readUntilClose().isEmpty)
        try await waitUntil("the connection to be gone") { server.openConnections == 0 }
        gate.open()
        await shutdown.value
        #expect(server.openConnections == 0)
    }

    @Test("shutdown cancels a handler still running after the grace period and returns once it has returned")
    func shutdownCancelsAndAwaitsHandlerTasks() async throws {
        let started = Atomic<Bool>(false)
        let returned = Atomic<Bool>(false)
        let server = try await HTTPServer.start { _ in
            started.store(true, ordering: .relaxed)
            // Waits until its task is cancelled: nobody yields to this stream.
            let (never, continuation) = AsyncStream<Void>.makeStream()
            for await _ in never {}
            withExtendedLifetime(continuation) {}
            returned.store(true, ordering: .relaxed)
            return .text("cancelled")
        }
        let busy = try connect(server)
        try busy.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        try await waitUntil("handler started") { started.load(ordering: .relaxed) }
        await server.shutdown(gracePeriod: .milliseconds(50))
        let handlerReturned = returned.load(ordering: .relaxed)
        #expect(handlerReturned, "shutdown returned while a handler task still ran")
        #expect(server.openConnections == 0)
        #expect(try await busy.readUntilClose().isEmpty)
    }
}
