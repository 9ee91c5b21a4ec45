import DiscoCore
import DiscoNet
import DiscoTestKit
import Glibc
import Sidecar
import SidecarProxy
import Synchronization
import Testing

/// A client that goes away in the middle of a large response: the proxy lets go of the upstream
/// connection at once (closed, not pooled: its response was not read to the end), as nginx does
/// ("client prematurely closed connection"), instead of holding it, unread, until a timeout.
@Suite("Sidecar proxy: a client that goes away in the middle of a large response")
struct ClientAbortTests {
    enum Framing: String, CaseIterable, Sendable { case contentLength, chunked }

    /// The upstream streams a body far larger than every buffer on the way, so the proxy is
    /// waiting on the client (back-pressure) when it closes: with unread bytes (a reset) or
    /// with SO_LINGER 0. The proxy's read timeout is an hour: only the client's going can end
    /// the upstream connection within the wait. (The proxy used to keep the response, and so the
    /// upstream connection, alive until its request's read-timeout timer was due.)
    @Test(arguments: Framing.allCases, [false, true])
    func theUpstreamConnectionClosesWhenTheClientGoes(framing: Framing, lingerZero: Bool) async throws {
        let upstream = try await EndlessUpstream.start()
        var configuration = proxyConfiguration([("app", upstream.address)])
        configuration.readTimeout = .seconds(3600)
        try await withProxy(configuration) { proxy in
            let address = try #require(proxy.localAddress)
            do {
                let client = try RawSocketClient(connectTo: address, timeoutSeconds: 20)
                try client.send("GET /\(framing.rawValue) HTTP/1.1\r\nHost: app\r\n\r\n")
                // Well into the body: the upstream is streaming through the proxy.
                _ = try await client.read(count: 512 * 1024)
                if lingerZero {
                    var reset = linger(l_onoff: 1, l_linger: 0)
                    setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
                }
                // Released at the end of this scope: closed with unread bytes (a reset).
            }
            try await waitUntil("the upstream to see its connection closed", timeout: .seconds(60)) { upstream.ended == 1 }
            #expect(upstream.accepted == 1)
        }
        await upstream.stop()
    }

    /// A client that half-closes after its one request (legal in HTTP/1.1, but a FIN cannot be
    /// told from a close) is taken to have left, as nginx takes it by default: it does not get
    /// the body (the proxy closes its connection, and the upstream's).
    @Test func aClientThatHalfClosesAfterItsRequestIsTakenToHaveLeft() async throws {
        let upstream = try await EndlessUpstream.start()
        try await withProxy(proxyConfiguration([("app", upstream.address)])) { proxy in
            let address = try #require(proxy.localAddress)
            let client = try RawSocketClient(connectTo: address, timeoutSeconds: 20)
            try client.send("GET /finite HTTP/1.1\r\nHost: app\r\n\r\n")
            client.shutdownWrite()
            let response = try? await client.readResponse()
            #expect((response?.body.count ?? 0) < EndlessUpstream.finiteLength)
        }
        await upstream.stop()
    }

    /// With `-proxy-ignore-client-abort` (nginx's `proxy_ignore_client_abort on`) a client that
    /// half-closes after its request still gets the whole body.
    @Test func withIgnoreClientAbortAHalfClosedClientStillGetsTheWholeBody() async throws {
        let upstream = try await EndlessUpstream.start()
        var configuration = proxyConfiguration([("app", upstream.address)])
        configuration.ignoresClientAbort = true
        try await withProxy(configuration) { proxy in
            let address = try #require(proxy.localAddress)
            let client = try RawSocketClient(connectTo: address, timeoutSeconds: 20)
            try client.send("GET /finite HTTP/1.1\r\nHost: app\r\n\r\n")
            client.shutdownWrite()
            let response = try await client.readResponse()
            #expect(response.status == 200)
            #expect(response.body.count == EndlessUpstream.finiteLength)
        }
        await upstream.stop()
    }
}

/// An upstream that answers `/contentLength` with a 1 GiB body and `/chunked` with chunks
/// without end, written as fast as the proxy takes them, until a write fails (counted in
/// ``ended``); `/finite` gets ``finiteLength`` bytes.
final class EndlessUpstream: Sendable {
    static let finiteLength = 3 * 1024 * 1024

    let listener: TCPListener
    private let task: Task<Void, Never>
    private let counts: Counts

    private final class Counts: Sendable {
        let accepted = Atomic<Int>(0)
        let ended = Atomic<Int>(0)
    }

    var address: SocketAddress { listener.localAddress }
    /// Connections accepted.
    var accepted: Int { counts.accepted.load(ordering: .relaxed) }
    /// Connections whose response could not be written to the end (the proxy closed them).
    var ended: Int { counts.ended.load(ordering: .relaxed) }

    private init(listener: TCPListener, task: Task<Void, Never>, counts: Counts) {
        self.listener = listener
        self.task = task
        self.counts = counts
    }

    static func start() async throws -> EndlessUpstream {
        let listener = try await TCPListener.bind()
        let counts = Counts()
        let task = Task {
            await withDiscardingTaskGroup { group in
                while let connection = try? await listener.accept() {
                    counts.accepted.add(1, ordering: .relaxed)
                    group.addTask {
                        if await !serve(connection) { counts.ended.add(1, ordering: .relaxed) }
                        connection.close()
                    }
                }
                group.cancelAll()
            }
        }
        return EndlessUpstream(listener: listener, task: task, counts: counts)
    }

    /// Answers one request; false when a write failed.
    private static func serve(_ connection: TCPConnection) async -> Bool {
        var head: [UInt8] = []
        while !head.ends(with: "\r\n\r\n") {
            guard let piece = try? await connection.read(), !piece.isEmpty else { return true }
            head += piece
        }
        let piece = [UInt8](repeating: 0x61, count: 64 * 1024)
        do {
            if head.starts(with: Array("GET /chunked ".utf8)) {
                try await connection.write(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
                let chunk = Array("10000\r\n".utf8) + piece + Array("\r\n".utf8)
                while true { try await connection.write(chunk) }
            }
            let finite = head.starts(with: Array("GET /finite ".utf8))
            let length = finite ? finiteLength : 1 << 30
            try await connection.write(Array("HTTP/1.1 200 OK\r\nContent-Length: \(length)\r\n\r\n".utf8))
            for _ in 0..<(length / piece.count) { try await connection.write(piece) }
            return true
        } catch {
            return false
        }
    }

    func stop() async {
        listener.close()
        task.cancel()
        await task.value
    }
}

extension [UInt8] {
    fileprivate func ends(with text: String) -> Bool {
        let suffix = Array(text.utf8)
        return count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
