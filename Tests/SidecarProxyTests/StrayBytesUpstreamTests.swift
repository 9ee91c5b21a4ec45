import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Synchronization
import Testing

// MARK: - A pooled upstream connection that received bytes nobody asked for

/// An upstream that answers `HEAD` with a head and then, once released, a body a `HEAD`
/// response must not have (arriving while the proxy holds the connection idle in its pool);
/// every other request gets `200 ok`. Counts the requests it received by method.
private final class StrayBodyUpstream: Sendable {
    let listener: TCPListener
    private let task: Task<Void, Never>
    private let record = Record()

    private final class Record: Sendable {
        let state = Mutex<(released: Bool, strayWritten: Bool, methods: [String])>((false, false, []))
    }

    init() async throws {
        let listener = try await TCPListener.bind()
        self.listener = listener
        let record = record
        task = Task {
            await withDiscardingTaskGroup { group in
                while let connection = try? await listener.accept() {
                    group.addTask { await Self.serve(connection, record) }
                }
                group.cancelAll()
            }
        }
    }

    private static func serve(_ connection: TCPConnection, _ record: Record) async {
        var pending: [UInt8] = []
        let end: [UInt8] = [13, 10, 13, 10]
        while true {
            guard let headEnd = (0..<max(0, pending.count - 3)).first(where: { Array(pending[$0..<($0 + 4)]) == end }) else {
                guard let piece = try? await connection.read() else { break }
                pending += piece
                continue
            }
            let method = String(decoding: pending.prefix { $0 != 32 }, as: UTF8.self)
            pending.removeFirst(headEnd + 4)
            record.state.withLock { $0.methods.append(method) }
            if method == "HEAD" {
                try? await connection.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".utf8))
                try? await waitUntil("the test to release the stray body") { record.state.withLock { $0.released } }
                try? await connection.write(Array("stray".utf8))
                record.state.withLock { $0.strayWritten = true }
            } else {
                try? await connection.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8))
            }
        }
        connection.close()
    }

    var address: SocketAddress { listener.localAddress }
    func release() { record.state.withLock { $0.released = true } }
    var strayWritten: Bool { record.state.withLock { $0.strayWritten } }
    var methods: [String] { record.state.withLock { $0.methods } }

    func stop() async {
        listener.close()
        task.cancel()
        await task.value
    }
}

@Suite("Sidecar proxy: a pooled upstream connection with stray bytes is not reused", .timeLimit(.minutes(2)))
struct StrayBytesUpstreamTests {
    /// The upstream's stray `HEAD` body lands in the connection the proxy keeps idle. A request
    /// sent on it would read those bytes as its response: a 502, for a `POST` that the upstream
    /// received and answered (the client, told it failed, may send it again). The connection
    /// must be dropped instead and the request sent on a fresh one: for a `POST` the check
    /// before reuse finds the unread bytes; for every method, the connection's own record of
    /// input arriving while it was idle does, with no system call.
    @Test(arguments: ["POST", "GET"], [true, false])
    func aRequestIsNotSentOnAConnectionHoldingStrayBytes(method: String, lane: Bool) async throws {
        let upstream = try await StrayBodyUpstream()
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.inlineLane = lane
        try await withProxy(configuration) { proxy in
            let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 30)
            try client.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse(headRequest: true).status == 200)
            upstream.release()
            try await waitUntil("the upstream to write the stray body") { upstream.strayWritten }
            // Bytes whose write has returned are in the proxy's socket on loopback; its one loop
            // learns of them when it next polls. A request the proxy answers itself (nothing
            // upstream), on another connection, once answered, shows that it has polled since.
            let other = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 30)
            try other.send("GET /.sidecar/metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await other.readResponse().status == 200)
            let length = method == "POST" ? "Content-Length: 0\r\n" : ""
            try client.send("\(method) /r HTTP/1.1\r\nHost: x\r\n\(length)\r\n")
            let answer = try await client.readResponse()
            #expect(answer.status == 200, "\(answer)")
            #expect(upstream.methods.filter { $0 == method }.count == 1, "\(upstream.methods)")
        }
        await upstream.stop()
    }
}
