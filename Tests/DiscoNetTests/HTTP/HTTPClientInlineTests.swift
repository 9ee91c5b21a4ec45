import DiscoNet
import DiscoTestKit
import Foundation
import Synchronization
import Testing

// MARK: - Running executeInline on a loop

/// What one ``HTTPClient/executeInline(_:timeout:on:completion:)`` call did: whether it applied,
/// its outcome, and whether the completion ran on the loop thread.
struct InlineRun: Sendable {
    var applied: Bool
    var outcome: HTTPClient.InlineOutcome?
    var completedOnLoop = false

    /// The response when the exchange started.
    var response: HTTPClientStreamingResponse? {
        if case .started(let response) = outcome { return response }
        return nil
    }

    /// The error and retryability when it failed.
    var failure: (error: any Error, retryable: Bool)? {
        if case .failed(let error, let retryable) = outcome { return (error, retryable) }
        return nil
    }
}

/// Calls `executeInline` on `loop`'s thread and waits for its completion (if it applied).
func runInline(_ client: HTTPClient, _ request: HTTPClientRequest, timeout: Duration? = nil, on loop: EventLoop) async throws -> InlineRun {
    let (outcomes, continuation) = AsyncStream.makeStream(of: InlineRun.self)
    let applied = try await loop.submit {
        client.executeInline(request, timeout: timeout, on: loop) { outcome in
            continuation.yield(InlineRun(applied: true, outcome: outcome, completedOnLoop: loop.inLoop))
            continuation.finish()
        }
    }
    guard applied else {
        continuation.finish()
        return InlineRun(applied: false)
    }
    for await run in outcomes { return run }
    Issue.record("executeInline applied but never completed")
    return InlineRun(applied: true)
}

/// A client whose connections all live on one loop, which the test drives.
struct OneLoopClient {
    let group: EventLoopGroup
    let client: HTTPClient
    var loop: EventLoop { group.loops[0] }

    init() throws {
        group = try EventLoopGroup(threads: 1, name: "disco-test-inline")
        client = HTTPClient(group: group)
    }

    func close() async {
        await client.shutdown()
        group.shutdown()
    }
}

// MARK: - A scripted upstream

/// One step of ``ScriptedHTTPPeer``'s first connection.
enum PeerStep: Sendable {
    /// Reads a request head, then writes these bytes.
    case answer(String)
    /// Closes the connection while it is idle (no request read).
    case closeIdle
    /// Reads a request head, then closes without a word.
    case readThenClose
    /// Reads a request head, then never answers (until the client leaves).
    case readThenHang
}

/// A TCP server whose first connection follows `steps`; it counts what it closed.
final class ScriptedHTTPPeer: Sendable {
    let listener: TCPListener
    private let task: Task<Void, Never>
    private let closedCount = PeerCounter()
    private let headCount = PeerCounter()

    init(_ steps: [PeerStep]) async throws {
        let listener = try await TCPListener.bind()
        self.listener = listener
        let closed = closedCount
        let heads = headCount
        task = Task {
            guard let connection = try? await listener.accept() else { return }
            func readHead() async -> Bool {
                var bytes: [UInt8] = []
                while !String(decoding: bytes, as: UTF8.self).contains("\r\n\r\n") {
                    guard let more = try? await connection.read() else { return false }
                    bytes += more
                }
                heads.value.add(1, ordering: .relaxed)
                return true
            }
            for step in steps {
                switch step {
                case .answer(let text):
                    guard await readHead() else { break }
                    try? await connection.write(Array(text.utf8))
                case .closeIdle:
                    connection.close()
                    // The close runs on the connection's loop: once this check (queued behind
                    // it) answers, the socket is closed and its FIN sent.
                    _ = await connection.isStale()
                    closed.value.add(1, ordering: .relaxed)
                    return
                case .readThenClose:
                    _ = await readHead()
                    connection.close()
                    // The close runs on the connection's loop: once this check (queued behind
                    // it) answers, the socket is closed and its FIN sent.
                    _ = await connection.isStale()
                    closed.value.add(1, ordering: .relaxed)
                    return
                case .readThenHang:
                    _ = await readHead()
                }
            }
            while (try? await connection.read()) != nil {}
            connection.close()
        }
    }

    var url: String { "http://\(listener.localAddress)" }
    /// Connections this peer closed on purpose.
    var closed: Int { closedCount.value.load(ordering: .relaxed) }
    /// Request heads read.
    var heads: Int { headCount.value.load(ordering: .relaxed) }

    func stop() async {
        listener.close()
        task.cancel()
        await task.value
    }
}

/// A count shared with the peer's task.
final class PeerCounter: Sendable {
    let value = Atomic<Int>(0)
}

let okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// MARK: - Tests

@Suite("HTTP client: inline exchanges on a loop", .timeLimit(.minutes(2)))
struct HTTPClientInlineTests {
    /// Answers `/big` with 300 KB, `/close` with `Connection: close`, anything else with its target.
    static let upstreamHandler: HTTPHandler = { request in
        switch request.path {
        case "/big": return HTTPResponse(headers: ["X-Size": "300000"], bytes: (0..<300_000).map { UInt8($0 % 251) })
        case "/close": return HTTPResponse(headers: ["Connection": "close"], bytes: Array("closing".utf8))
        default: return HTTPResponse(status: 201, headers: ["X-Target": request.target], bytes: Array("\(request.method) \(request.target)".utf8))
        }
    }

    @Test func appliesOnlyOnTheLoopWithAnIdlePooledConnection() async throws {
        let side = try OneLoopClient()
        try await withServer(handler: Self.upstreamHandler) { server in
            let base = "http://\(server.localAddress)"
            // No connection yet: nothing happens, nothing is opened.
            let first = try await runInline(side.client, HTTPClientRequest(url: base + "/a"), on: side.loop)
            #expect(!first.applied)
            #expect(await side.client.connectionsOpened == 0)
            // One ordinary exchange leaves an idle connection on the only loop.
            #expect(try await side.client.send(HTTPClientRequest(url: base + "/warm")).status == 201)
            // Off the loop it never applies, even with that connection idle.
            #expect(!side.client.executeInline(HTTPClientRequest(url: base + "/b"), on: side.loop) { _ in
                Issue.record("completion called for an exchange that did not apply")
            })
            // A streamed request body never goes inline.
            let streamed = HTTPClientRequest(url: base + "/c", bodyStream: .writer { _ in })
            #expect(!(try await runInline(side.client, streamed, on: side.loop)).applied)

            let run = try await runInline(side.client, HTTPClientRequest(url: base + "/d?x=1", headers: ["X-Req": "1"]), on: side.loop)
            #expect(run.applied)
            #expect(run.completedOnLoop)
            let response = try #require(run.response, "\(String(describing: run.outcome))")
            #expect(response.status == 201)
            #expect(response.headers["X-Target"] == "/d?x=1")
            #expect(String(decoding: try await response.body.collect(upTo: 1 << 20), as: UTF8.self) == "GET /d?x=1")
            #expect(await side.client.connectionsOpened == 1)
        }
        await side.close()
    }

    @Test func theConnectionReturnsToThePoolAfterACompleteBody() async throws {
        let side = try OneLoopClient()
        try await withServer(handler: Self.upstreamHandler) { server in
            let base = "http://\(server.localAddress)"
            _ = try await side.client.send(HTTPClientRequest(url: base + "/warm"))
            for round in 0..<5 {
                // A body larger than one read, then a HEAD (no body at all), then a small one.
                let big = try await runInline(side.client, HTTPClientRequest(url: base + "/big"), on: side.loop)
                let bigResponse = try #require(big.response, "round \(round): \(String(describing: big.outcome))")
                #expect(bigResponse.headers["X-Size"] == "300000")
                let bytes = try await bigResponse.body.collect(upTo: 1 << 20)
                #expect(bytes == (0..<300_000).map { UInt8($0 % 251) })

                let head = try await runInline(side.client, HTTPClientRequest(method: "HEAD", url: base + "/h"), on: side.loop)
                let headResponse = try #require(head.response, "round \(round): HEAD after a complete body must find the connection")
                #expect(headResponse.status == 201)
                #expect(try await headResponse.body.collect(upTo: 1 << 20).isEmpty)

                let small = try await runInline(side.client, HTTPClientRequest(method: "DELETE", url: base + "/s\(round)"), on: side.loop)
                let smallResponse = try #require(small.response, "round \(round)")
                #expect(String(decoding: try await smallResponse.body.collect(upTo: 1 << 20), as: UTF8.self) == "DELETE /s\(round)")
            }
            #expect(await side.client.connectionsOpened == 1)
        }
        await side.close()
    }

    @Test func aResponseWithConnectionCloseDoesNotGoBackToThePool() async throws {
        let side = try OneLoopClient()
        try await withServer(handler: Self.upstreamHandler) { server in
            let base = "http://\(server.localAddress)"
            _ = try await side.client.send(HTTPClientRequest(url: base + "/warm"))
            let run = try await runInline(side.client, HTTPClientRequest(url: base + "/close"), on: side.loop)
            let response = try #require(run.response)
            #expect(String(decoding: try await response.body.collect(upTo: 1 << 20), as: UTF8.self) == "closing")
            #expect(!(try await runInline(side.client, HTTPClientRequest(url: base + "/after"), on: side.loop)).applied)
        }
        await side.close()
    }

    /// The upstream's FIN arrived while the connection sat idle: the connection knows it from
    /// its own readiness (no system call), so the pool drops it instead of handing it out, for
    /// a GET as for a POST; the request takes the general path and a fresh connection.
    @Test(arguments: ["GET", "POST"])
    func aConnectionTheUpstreamClosedWhileIdleIsNotTaken(method: String) async throws {
        let peer = try await ScriptedHTTPPeer([.answer(okAnswer), .closeIdle])
        let side = try OneLoopClient()
        #expect(try await side.client.send(HTTPClientRequest(url: peer.url + "/a")).bodyText == "ok")
        try await waitUntil("the upstream to close the idle connection") { peer.closed == 1 }
        // The peer's close is not its FIN's arrival: under load the kernel may deliver the FIN a
        // moment later. Once the client's socket has left ESTABLISHED, the FIN has arrived and its
        // readiness is queued: the poll that wakes the loop for the request (or an earlier one)
        // reports it, and a turn handles its events before the work submitted to it.
        let peerPort = peer.listener.localAddress.port
        try await waitUntil("the client's socket to receive the FIN") { !Self.hasEstablishedSocket(toPort: peerPort) }
        let body: [UInt8] = method == "POST" ? Array("x".utf8) : []
        let run = try await runInline(side.client, HTTPClientRequest(method: method, url: peer.url + "/b", body: body), on: side.loop)
        #expect(!run.applied, "\(String(describing: run.outcome))")
        #expect(peer.heads == 1, "nothing was sent on the closed connection")
        await side.close()
        await peer.stop()
    }

    /// Whether a TCP socket of this machine connected to `remotePort` is still ESTABLISHED (no
    /// FIN received from its peer yet), from `/proc/net/tcp` and `/proc/net/tcp6`.
    static func hasEstablishedSocket(toPort remotePort: UInt16) -> Bool {
        let port = String(remotePort, radix: 16, uppercase: true)
        let suffix = ":" + String(repeating: "0", count: max(0, 4 - port.count)) + port
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                if fields.count > 3, fields[2].hasSuffix(suffix), fields[3] == "01" { return true }
            }
        }
        return false
    }

    /// A GET whose connection the upstream dropped after reading it (no response byte) may go
    /// again on another connection: it is idempotent.
    @Test func aGetTheUpstreamReadThenDroppedIsRetryable() async throws {
        let peer = try await ScriptedHTTPPeer([.answer(okAnswer), .readThenClose])
        let side = try OneLoopClient()
        _ = try await side.client.send(HTTPClientRequest(url: peer.url + "/a"))
        let run = try await runInline(side.client, HTTPClientRequest(url: peer.url + "/b"), on: side.loop)
        #expect(run.applied)
        let failure = try #require(run.failure, "\(String(describing: run.outcome))")
        #expect(failure.retryable)
        #expect(failure.error is HTTPClientError, "\(failure.error)")
        #expect(peer.heads == 2)
        // The dead connection is gone from the pool.
        #expect(!(try await runInline(side.client, HTTPClientRequest(url: peer.url + "/c"), on: side.loop)).applied)
        await side.close()
        await peer.stop()
    }

    @Test func aPostTheUpstreamReadThenDroppedIsNotRetryable() async throws {
        let peer = try await ScriptedHTTPPeer([.answer(okAnswer), .readThenClose])
        let side = try OneLoopClient()
        _ = try await side.client.send(HTTPClientRequest(url: peer.url + "/a"))
        let run = try await runInline(side.client, HTTPClientRequest(method: "POST", url: peer.url + "/b", body: Array("x".utf8)), on: side.loop)
        let failure = try #require(run.failure, "\(String(describing: run.outcome))")
        #expect(!failure.retryable, "the upstream may have acted on the POST")
        #expect(peer.heads == 2)
        await side.close()
        await peer.stop()
    }

    @Test func anUpstreamThatNeverAnswersTimesOut() async throws {
        let peer = try await ScriptedHTTPPeer([.answer(okAnswer), .readThenHang])
        let side = try OneLoopClient()
        _ = try await side.client.send(HTTPClientRequest(url: peer.url + "/a"))
        let limit = Duration.milliseconds(300)
        let started = ContinuousClock.now
        let run = try await runInline(side.client, HTTPClientRequest(url: peer.url + "/b"), timeout: limit, on: side.loop)
        let elapsed = ContinuousClock.now - started
        let failure = try #require(run.failure, "\(String(describing: run.outcome))")
        #expect((failure.error as? HTTPClientError)?.code == .timeout, "\(failure.error)")
        #expect(!failure.retryable)
        #expect(run.completedOnLoop)
        #expect(elapsed >= limit, "failed after \(elapsed), before its timeout")
        #expect(elapsed < .seconds(30), "the timeout did not end the exchange (\(elapsed))")
        #expect(!(try await runInline(side.client, HTTPClientRequest(url: peer.url + "/c"), on: side.loop)).applied)
        await side.close()
        await peer.stop()
    }

    @Test func aMalformedResponseFailsAndIsNotRetryable() async throws {
        let peer = try await ScriptedHTTPPeer([.answer(okAnswer), .answer("HTTP/1.1 2x0 Nope\r\n\r\n")])
        let side = try OneLoopClient()
        _ = try await side.client.send(HTTPClientRequest(url: peer.url + "/a"))
        let run = try await runInline(side.client, HTTPClientRequest(url: peer.url + "/b"), on: side.loop)
        let failure = try #require(run.failure, "\(String(describing: run.outcome))")
        #expect(!failure.retryable, "a response arrived: the request was seen")
        let error = try #require(failure.error as? HTTPClientError, "\(failure.error)")
        #expect(error.code == .malformedResponse)
        #expect(error.host == "\(peer.listener.localAddress)")
        await side.close()
        await peer.stop()
    }

    @Test func anInterimResponseBeforeTheHeadIsSkipped() async throws {
        let answer = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 4\r\n\r\nbody"
        let peer = try await ScriptedHTTPPeer([.answer(okAnswer), .answer(answer)])
        let side = try OneLoopClient()
        _ = try await side.client.send(HTTPClientRequest(url: peer.url + "/a"))
        let run = try await runInline(side.client, HTTPClientRequest(url: peer.url + "/b"), on: side.loop)
        let response = try #require(run.response, "\(String(describing: run.outcome))")
        #expect(response.status == 200)
        #expect(response.headers["X-Final"] == "yes")
        #expect(String(decoding: try await response.body.collect(upTo: 100), as: UTF8.self) == "body")
        await side.close()
        await peer.stop()
    }
}
