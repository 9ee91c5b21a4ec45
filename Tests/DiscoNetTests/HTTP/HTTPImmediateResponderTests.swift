import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - Support

/// What an immediate handler saw: each request's `METHOD target`, and whether it ran inside a
/// task (false when the connection answered it inline, on the loop).
private final class CallLog: Sendable {
    private let calls = Mutex<[(request: String, inTask: Bool)]>([])

    func record(_ request: HTTPRequest) {
        let inTask = withUnsafeCurrentTask { $0 != nil }
        calls.withLock { $0.append(("\(request.method) \(request.target)", inTask)) }
    }

    var requests: [String] { calls.withLock { $0.map(\.request) } }
    var inTask: [Bool] { calls.withLock { $0.map(\.inTask) } }
}

/// An immediate responder that answers `METHOD target` (plus the body) and logs each call;
/// `/stream` answers with a streamed body and `/fail` with 500.
private func loggingResponder(_ log: CallLog, limit: Int = 1 << 20) -> HTTPResponder {
    .immediate(upTo: limit) { request in
        log.record(request)
        switch request.path {
        case "/stream":
            return HTTPResponse(body: .stream { writer in
                for piece in ["one ", "two ", "three"] { try await writer.write(piece) }
            })
        case "/fail":
            return .text("no such thing\n", status: 500)
        default:
            var text = "\(request.method) \(request.target)"
            if !request.body.isEmpty { text += " body=\(request.bodyText)" }
            return .text(text)
        }
    }
}

// MARK: - Tests

@Suite("HTTP server: immediate responders answered inline")
struct HTTPImmediateResponderTests {
    @Test func requestsWithoutBodyAreAnsweredInlineInOrderOnOneConnection() async throws {
        let log = CallLog()
        try await withServer(responder: loggingResponder(log)) { server in
            let client = try connect(server)
            let paths = (0..<100).map { "/\($0)" }
            // One write: every request is buffered before the first is answered.
            try client.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
            for path in paths {
                let response = try await client.readResponse()
                #expect(response.status == 200)
                #expect(response.bodyText == "GET \(path)")
                #expect(response.header("Connection") == nil)
                #expect(response.header("Date")?.hasSuffix(" GMT") == true)
            }
            try client.send("GET /later HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await client.readResponse().bodyText == "GET /later")
            #expect(server.acceptedConnections == 1)
        }
        #expect(log.requests == (0..<100).map { "GET /\($0)" } + ["GET /later"])
        #expect(log.inTask.allSatisfy { !$0 }, "a request without a body went through a task: \(log.inTask)")
    }

    @Test func aRequestWithABodyIsCollectedAndAnsweredInItsTurn() async throws {
        let log = CallLog()
        try await withServer(responder: loggingResponder(log)) { server in
            let client = try connect(server)
            try client.send("GET /1 HTTP/1.1\r\nHost: t\r\n\r\nPOST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                            + "GET /3 HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await client.readResponse().bodyText == "GET /1")
            #expect(try await client.readResponse().bodyText == "POST /2 body=abc")
            #expect(try await client.readResponse().bodyText == "GET /3")
        }
        #expect(log.requests == ["GET /1", "POST /2", "GET /3"])
        // /3 is parsed once /2's response is finished, from inside the handler task that
        // answered /2, so only the first two calls tell the paths apart.
        #expect(log.inTask.prefix(2) == [false, true])
    }

    @Test func aBodyOverTheLimitGets413WithoutCallingTheHandler() async throws {
        let log = CallLog()
        try await withServer(responder: loggingResponder(log, limit: 4)) { server in
            let client = try connect(server)
            try client.send("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
            let response = try await client.readResponse()
            #expect(response.status == 413)
            #expect(response.bodyText.contains("4"), "\(response.bodyText)")
        }
        #expect(log.requests.isEmpty)
    }

    @Test func headGetsTheLengthButNoBodyAndTheConnectionGoesOn() async throws {
        try await withServer(responder: loggingResponder(CallLog())) { server in
            let client = try connect(server)
            try client.send("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\nGET /g HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = try await client.readResponse(headRequest: true)
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "7")
            #expect(head.body.isEmpty)
            #expect(try await client.readResponse().bodyText == "GET /g")
        }
    }

    @Test func connectionCloseEndsTheConnectionAndLaterPipelinedRequestsAreNotAnswered() async throws {
        let log = CallLog()
        try await withServer(responder: loggingResponder(log)) { server in
            let client = try connect(server)
            try client.send("GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.bodyText == "GET /last")
            #expect(response.header("Connection") == "close")
            #expect(try await client.isClosedByPeer())
        }
        #expect(log.requests == ["GET /last"])
    }

    @Test func http10WithoutKeepAliveClosesAndWithKeepAliveStaysOpen() async throws {
        try await withServer(responder: loggingResponder(CallLog())) { server in
            let kept = try connect(server)
            for _ in 0..<2 {
                try kept.send("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let response = try await kept.readResponse()
                #expect(response.header("Connection")?.lowercased() == "keep-alive")
            }
            let (response, closing) = try await exchange(server, "GET /old HTTP/1.0\r\n\r\n")
            #expect(response.bodyText == "GET /old")
            #expect(try await closing.isClosedByPeer())
        }
    }

    @Test func pipelinedRequestsBeforeAHalfCloseAreAllAnsweredThenTheConnectionCloses() async throws {
        try await withServer(responder: loggingResponder(CallLog())) { server in
            let client = try connect(server)
            try client.send("GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\n")
            client.shutdownWrite()
            #expect(try await client.readResponse().bodyText == "GET /1")
            #expect(try await client.readResponse().bodyText == "GET /2")
            #expect(try await client.isClosedByPeer())
        }
    }

    @Test func aBadRequestAfterAnInlineAnswerGets400AndCloses() async throws {
        try await withServer(responder: loggingResponder(CallLog())) { server in
            let client = try connect(server)
            try client.send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\nGET /bad HTTP/9.9\r\nHost: t\r\n\r\n")
            #expect(try await client.readResponse().bodyText == "GET /ok")
            let refused = try await client.readResponse()
            #expect(refused.status == 400 || refused.status == 505, "\(refused)")
            #expect(refused.header("Connection") == "close")
            #expect(try await client.isClosedByPeer())
        }
    }

    @Test func anErrorStatusFromTheHandlerKeepsTheConnection() async throws {
        try await withServer(responder: loggingResponder(CallLog())) { server in
            let client = try connect(server)
            try client.send("GET /fail HTTP/1.1\r\nHost: t\r\n\r\nGET /after HTTP/1.1\r\nHost: t\r\n\r\n")
            let failed = try await client.readResponse()
            #expect(failed.status == 500)
            #expect(failed.bodyText == "no such thing\n")
            #expect(try await client.readResponse().bodyText == "GET /after")
        }
    }

    @Test func aStreamedBodyStartedInlineIsFinishedByTheHandlerTask() async throws {
        try await withServer(responder: loggingResponder(CallLog())) { server in
            let client = try connect(server)
            try client.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n")
            let streamed = try await client.readResponse()
            #expect(streamed.header("Transfer-Encoding") == "chunked")
            #expect(streamed.bodyText == "one two three")
            #expect(try await client.readResponse().bodyText == "GET /next")
            try client.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await client.readResponse().bodyText == "one two three")
        }
    }

    @Test func aHandOffAnsweredInlineGetsTheRawConnection() async throws {
        let upgrading = HTTPResponder.immediate(upTo: 1024) { _ in
            .switchingProtocols(to: "echo") { upgraded in
                // Echo what followed the request, then what arrives, until the client half-closes.
                var pending = upgraded.initialBytes
                do {
                    while true {
                        if !pending.isEmpty { try await upgraded.connection.write(pending) }
                        guard let more = try await upgraded.connection.read() else { break }
                        pending = more
                    }
                } catch {}
            }
        }
        try await withServer(responder: upgrading) { server in
            let client = try connect(server)
            try client.send("GET /up HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nearly")
            let switched = try await client.readResponse(headRequest: true)
            #expect(switched.status == 101)
            #expect(switched.header("Upgrade") == "echo")
            #expect(String(decoding: try await client.read(count: 5), as: UTF8.self) == "early")
            try client.send("late")
            #expect(String(decoding: try await client.read(count: 4), as: UTF8.self) == "late")
            client.shutdownWrite()
            #expect(try await client.isClosedByPeer())
        }
    }

    @Test func aClientThatPipelinesWithoutReadingIsNotReadWithoutBound() async throws {
        try await withServer(responder: loggingResponder(CallLog())) { server in
            let client = try RawSocketClient(connectTo: server.localAddress)
            var oneSecond = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(client.fd, SOL_SOCKET, SO_SNDTIMEO, &oneSecond, socklen_t(MemoryLayout<timeval>.size))
            let chunk = Array(String(repeating: "GET / HTTP/1.1\r\nHost: t\r\n\r\n", count: 1000).utf8)
            // Without back-pressure the server reads (and answers into memory) all of it.
            let bound = 64 << 20
            var sent = 0
            while sent < bound {
                do { try await client.sendAsync(chunk) } catch { break }
                sent += chunk.count
            }
            #expect(sent < bound, "the server kept reading requests whose answers were not read")
            let first = try await client.readResponse()
            #expect(first.status == 200)
            #expect(first.bodyText == "GET /")
        }
    }

    @Test func behindMiddlewareTheResponderRunsInTheTaskAndStillAnswers() async throws {
        let log = CallLog()
        let tagging = HTTPMiddlewareFunction { request, next in
            var response = try await next(request)
            response.headers.set(name: "X-Layer", value: "outer")
            return response
        }
        try await withServer(middleware: [tagging], responder: loggingResponder(log)) { server in
            let client = try connect(server)
            try client.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
            for path in ["/a", "/b"] {
                let response = try await client.readResponse()
                #expect(response.bodyText == "GET \(path)")
                #expect(response.header("X-Layer") == "outer")
            }
        }
        #expect(log.requests == ["GET /a", "GET /b"])
        #expect(log.inTask == [true, true])
    }
}
