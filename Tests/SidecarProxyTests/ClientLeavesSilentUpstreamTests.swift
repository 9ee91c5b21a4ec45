import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Synchronization
import Testing

/// A client that goes away while the proxy waits for a silent upstream: the proxy closes the
/// upstream connection at once and counts the request as 499, as nginx does
/// (`proxy_ignore_client_abort off`: "client prematurely closed connection, so upstream
/// connection is closed too"), instead of waiting for the upstream's next bytes or the read
/// timeout.
@Suite("Sidecar proxy: a client that leaves while the upstream is silent")
struct ClientLeavesSilentUpstreamTests {
    enum Silence: String, CaseIterable, Sendable {
        /// The upstream never sends a response head.
        case hang
        /// It sends the head and a first piece of a longer body, then nothing.
        case partial
    }

    /// The proxy's read timeout is an hour: only the client's leaving can end the upstream
    /// connection within the wait. The client first gets one answer on the same connection, so
    /// the second request finds an idle pooled upstream connection on its loop (the inline
    /// lane's path when it is on). Before, the proxy noticed nothing until the upstream spoke
    /// again or the read timeout passed.
    @Test(arguments: Silence.allCases, [true, false])
    func theUpstreamConnectionClosesWhenTheClientLeaves(silence: Silence, inlineLane: Bool) async throws {
        let upstream = try await SilentUpstream.start()
        var configuration = proxyConfiguration([("app", upstream.address)])
        configuration.readTimeout = .seconds(3600)
        configuration.inlineLane = inlineLane
        try await withProxy(configuration) { proxy in
            let address = try #require(proxy.localAddress)
            do {
                let client = try RawSocketClient(connectTo: address, timeoutSeconds: 20)
                try client.send("GET /answer HTTP/1.1\r\nHost: app\r\n\r\n")
                #expect(try await client.readResponse().bodyText == "ok")
                try client.send("GET /\(silence.rawValue) HTTP/1.1\r\nHost: app\r\n\r\n")
                if silence == .partial {
                    _ = try await client.read(count: SilentUpstream.partialHead.utf8.count + SilentUpstream.firstPiece)
                }
                try await waitUntil("the upstream to hold the request") { upstream.holding == 1 }
                // Released at the end of this scope: closed.
            }
            try await waitUntil("the upstream to see its connection closed", timeout: .seconds(60)) { upstream.ended == 1 }
            if silence == .hang {
                try await waitUntil("the request to be counted as 499") { proxy.metrics.requests(status: 499) == 1 }
            }
        }
        await upstream.stop()
    }
}

/// An upstream that answers `/answer` (keep-alive) and holds `/hang` (no answer) and
/// `/partial` (a head and the first piece of a longer body) until the peer closes, counting
/// the requests it holds and the held connections that ended.
final class SilentUpstream: Sendable {
    static let partialHead = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    static let firstPiece = 1000

    let listener: TCPListener
    private let task: Task<Void, Never>
    private let counts: Counts

    private final class Counts: Sendable {
        let holding = Atomic<Int>(0)
        let ended = Atomic<Int>(0)
    }

    var address: SocketAddress { listener.localAddress }
    /// Requests held without a complete answer.
    var holding: Int { counts.holding.load(ordering: .relaxed) }
    /// Held requests whose connection the peer closed.
    var ended: Int { counts.ended.load(ordering: .relaxed) }

    private init(listener: TCPListener, task: Task<Void, Never>, counts: Counts) {
        self.listener = listener
        self.task = task
        self.counts = counts
    }

    static func start() async throws -> SilentUpstream {
        let listener = try await TCPListener.bind()
        let counts = Counts()
        let task = Task {
            await withDiscardingTaskGroup { group in
                while let connection = try? await listener.accept() {
                    group.addTask {
                        await serve(connection, counts)
                        connection.close()
                    }
                }
                group.cancelAll()
            }
        }
        return SilentUpstream(listener: listener, task: task, counts: counts)
    }

    private static func serve(_ connection: TCPConnection, _ counts: Counts) async {
        var buffered: [UInt8] = []
        while true {
            guard let end = buffered.firstRange(of: Array("\r\n\r\n".utf8)) else {
                guard let piece = try? await connection.read(), !piece.isEmpty else { return }
                buffered += piece
                continue
            }
            let head = String(decoding: buffered[..<end.lowerBound], as: UTF8.self)
            buffered.removeSubrange(..<end.upperBound)
            if head.hasPrefix("GET /answer ") {
                guard (try? await connection.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8))) != nil else { return }
                continue
            }
            if head.hasPrefix("GET /partial ") {
                let bytes = Array(partialHead.utf8) + [UInt8](repeating: 0x61, count: firstPiece)
                guard (try? await connection.write(bytes)) != nil else { return }
            }
            counts.holding.add(1, ordering: .relaxed)
            while let piece = try? await connection.read(), !piece.isEmpty {}
            counts.ended.add(1, ordering: .relaxed)
            return
        }
    }

    func stop() async {
        listener.close()
        task.cancel()
        await task.value
    }
}
