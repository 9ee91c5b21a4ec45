import DiscoNet
import DiscoTestKit
import Dispatch
import Synchronization
import Testing

// MARK: - An inline handler with one answer of each kind

/// Takes requests by path: `/now` (a fixed body at once), `/later` (through `respond(later:)`),
/// `/stream` (a streamed body), `/thread` (answered from a dispatch queue, off the loop),
/// `/thread-later` (`respond(later:)` from that queue) and
/// declines everything else (`/declined`). Records every request it is offered and whether it
/// was called on the loop thread.
final class KindsInlineHandler: HTTPInlineHandler {
    private let offered = Mutex<[String]>([])
    private let offLoopCalls = Atomic<Int>(0)
    private let elsewhere = DispatchQueue(label: "disco.test.inline.elsewhere")

    /// `METHOD target` of every request offered, in order.
    var seen: [String] { offered.withLock { $0 } }
    /// Calls that did not come on the connection's loop thread (must stay 0).
    var callsOffTheLoop: Int { offLoopCalls.load(ordering: .relaxed) }

    func handle(_ request: HTTPRequest, reply: HTTPInlineReply) -> Bool {
        offered.withLock { $0.append("\(request.method) \(request.target)") }
        if !reply.loop.inLoop { offLoopCalls.add(1, ordering: .relaxed) }
        switch request.path {
        case "/now":
            reply.respond(HTTPResponse(headers: ["X-Kind": "now"], bytes: Array("now \(request.target)".utf8)))
        case "/later":
            let target = request.target
            reply.respond(later: {
                await Task.yield()
                return HTTPResponse(headers: ["X-Kind": "later"], bytes: Array("later \(target)".utf8))
            })
        case "/stream":
            let target = request.target
            reply.respond(HTTPResponse(headers: ["X-Kind": "stream"], body: .stream { writer in
                try await writer.write("stream ")
                try await writer.write(target)
            }))
        case "/thread":
            let target = request.target
            elsewhere.async { reply.respond(HTTPResponse(headers: ["X-Kind": "thread"], bytes: Array("thread \(target)".utf8))) }
        case "/thread-later":
            let target = request.target
            elsewhere.async {
                reply.respond(later: { HTTPResponse(headers: ["X-Kind": "thread-later"], bytes: Array("thread-later \(target)".utf8)) })
            }
        default:
            return false
        }
        return true
    }
}

/// Notes every request that reaches the middleware chain and marks responses that went through it.
struct NotingMiddleware: HTTPMiddleware {
    let trace: Trace

    func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        trace.add("\(request.method) \(request.target)")
        var response = try await next(request)
        response.headers.add(name: "X-Middleware", value: "yes")
        return response
    }
}

/// The normal responder: `responder METHOD target body=N`.
let countingResponder = HTTPResponder { request in
    let bytes = try await request.body.collect(upTo: 1 << 20)
    return HTTPResponse(headers: ["X-Kind": "responder"], bytes: Array("responder \(request.method) \(request.target) body=\(bytes.count)".utf8))
}

/// A server with `inline` in front of ``NotingMiddleware`` and ``countingResponder``.
func withInlineServer<T>(
    _ inline: KindsInlineHandler, trace: Trace, _ body: (HTTPServer) async throws -> T
) async throws -> T {
    var configuration = HTTPServerConfiguration()
    configuration.inlineHandler = inline
    return try await withServer(configuration, middleware: [NotingMiddleware(trace: trace)], responder: countingResponder, body)
}

// MARK: - Tests

@Suite("HTTP server: inline handler", .timeLimit(.minutes(2)))
struct HTTPInlineHandlerTests {
    /// The body each kind answers `GET target` with.
    private func expectedBody(_ path: String, target: String, method: String = "GET") -> String {
        switch path {
        case "/now": "now \(target)"
        case "/later": "later \(target)"
        case "/stream": "stream \(target)"
        case "/thread": "thread \(target)"
        case "/thread-later": "thread-later \(target)"
        default: "responder \(method) \(target) body=0"
        }
    }

    @Test func eachKindAnswersOnAKeepAliveConnection() async throws {
        let inline = KindsInlineHandler()
        let trace = Trace()
        try await withInlineServer(inline, trace: trace) { server in
            let client = try connect(server)
            for path in ["/now", "/later", "/stream", "/thread", "/thread-later", "/declined", "/now"] {
                try client.send("GET \(path)?k=1 HTTP/1.1\r\nHost: t\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200, "\(path): \(response)")
                #expect(response.bodyText == expectedBody(path, target: "\(path)?k=1"))
                #expect(response.header("X-Kind") == (path == "/declined" ? "responder" : String(path.dropFirst())))
                // Only the declined request went through the middleware.
                #expect(response.header("X-Middleware") == (path == "/declined" ? "yes" : nil), "\(path)")
                if path == "/stream" { #expect(response.header("Transfer-Encoding")?.lowercased() == "chunked") }
            }
        }
        #expect(trace.all == ["GET /declined?k=1"])
        #expect(inline.seen.count == 7)
        #expect(inline.callsOffTheLoop == 0)
    }

    @Test func pipelinedRequestsOfEveryKindAreAnsweredInOrder() async throws {
        let inline = KindsInlineHandler()
        let trace = Trace()
        let paths = ["/later", "/now", "/stream", "/declined", "/thread", "/now", "/later", "/declined", "/stream", "/thread-later", "/now"]
        try await withInlineServer(inline, trace: trace) { server in
            let client = try connect(server)
            // Several rounds, each sent in one write, so answers given during the parse of the
            // same buffer (the `/now` ones) and those given later interleave.
            for round in 0..<10 {
                let requests = paths.enumerated().map { index, path in "GET \(path)?r=\(round)&i=\(index) HTTP/1.1\r\nHost: t\r\n\r\n" }
                try client.send(requests.joined())
                for (index, path) in paths.enumerated() {
                    let response = try await client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.bodyText == expectedBody(path, target: "\(path)?r=\(round)&i=\(index)"), "round \(round) #\(index)")
                }
            }
            #expect(!client.hasBytesWaiting(), "no answer beyond those asked for")
        }
        #expect(trace.all.count == 20)
        #expect(inline.seen.count == 10 * paths.count)
    }

    @Test func headGetsTheHeadOfEachKindWithoutABody() async throws {
        let inline = KindsInlineHandler()
        try await withInlineServer(inline, trace: Trace()) { server in
            let client = try connect(server)
            // Each HEAD is followed by a GET in the same write: a body byte sent for the HEAD
            // would be read as the start of the GET's answer and break it.
            for path in ["/now", "/later", "/stream", "/thread", "/declined"] {
                try client.send("HEAD \(path) HTTP/1.1\r\nHost: t\r\n\r\nGET /now?after=\(path) HTTP/1.1\r\nHost: t\r\n\r\n")
                let head = try await client.readResponse(headRequest: true)
                #expect(head.status == 200, "\(path)")
                #expect(head.header("X-Kind") != nil, "\(path): \(head)")
                let next = try await client.readResponse()
                #expect(next.bodyText == "now /now?after=\(path)", "after HEAD \(path): \(next)")
            }
        }
        #expect(inline.seen.contains("HEAD /stream"))
    }

    @Test(arguments: ["/now", "/later", "/stream", "/thread", "/thread-later", "/declined"])
    func connectionCloseClosesAfterTheAnswer(path: String) async throws {
        let inline = KindsInlineHandler()
        try await withInlineServer(inline, trace: Trace()) { server in
            let client = try connect(server)
            // A request pipelined behind the closing one must not be answered.
            try client.send("GET \(path) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /now?behind HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == expectedBody(path, target: path))
            #expect(response.header("Connection")?.lowercased() == "close", "\(response)")
            #expect(try await client.isClosedByPeer(), "connection still open after Connection: close")
        }
        #expect(!inline.seen.contains("GET /now?behind"))
    }

    @Test func requestsWithABodyNeverReachTheInlineHandler() async throws {
        let inline = KindsInlineHandler()
        let trace = Trace()
        try await withInlineServer(inline, trace: trace) { server in
            let client = try connect(server)
            try client.send("POST /now HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                + "GET /later HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
                + "GET /now HTTP/1.1\r\nHost: t\r\n\r\n")
            let posted = try await client.readResponse()
            #expect(posted.bodyText == "responder POST /now body=3")
            #expect(posted.header("X-Middleware") == "yes")
            let chunked = try await client.readResponse()
            #expect(chunked.bodyText == "responder GET /later body=2")
            #expect(chunked.header("X-Middleware") == "yes")
            let taken = try await client.readResponse()
            #expect(taken.bodyText == "now /now")
            #expect(taken.header("X-Middleware") == nil)
        }
        #expect(inline.seen == ["GET /now"])
        #expect(trace.all == ["POST /now", "GET /later"])
    }

    @Test func manyConnectionsAtOnceEachGetTheirOwnAnswers() async throws {
        let inline = KindsInlineHandler()
        let trace = Trace()
        let paths = ["/now", "/later", "/stream", "/thread", "/declined"]
        try await withInlineServer(inline, trace: trace) { server in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for connection in 0..<8 {
                    group.addTask {
                        let client = try connect(server)
                        for round in 0..<5 {
                            let requests = paths.map { "GET \($0)?c=\(connection)&r=\(round) HTTP/1.1\r\nHost: t\r\n\r\n" }
                            try await client.sendAsync(Array(requests.joined().utf8))
                            for path in paths {
                                let response = try await client.readResponse()
                                #expect(response.bodyText == expectedBody(path, target: "\(path)?c=\(connection)&r=\(round)"))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        #expect(trace.all.count == 8 * 5)
        #expect(inline.callsOffTheLoop == 0)
    }

    @Test func aHalfClosedClientGetsEveryPipelinedAnswerAndThenTheClose() async throws {
        let inline = KindsInlineHandler()
        try await withInlineServer(inline, trace: Trace()) { server in
            let paths = ["/now", "/later", "/now", "/thread", "/stream", "/thread-later", "/declined", "/now"]
            let client = try connect(server)
            try client.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
            client.shutdownWrite()
            for path in paths {
                let response = try await client.readResponse()
                #expect(response.bodyText == expectedBody(path, target: path))
            }
            #expect(try await client.isClosedByPeer(), "the server must close once the half-closed client has every answer")
        }
    }

    @Test func aThousandPipelinedAnswersGivenDuringTheParseKeepTheirOrder() async throws {
        let inline = KindsInlineHandler()
        try await withInlineServer(inline, trace: Trace()) { server in
            let client = try connect(server)
            let count = 1000
            let requests = (0..<count).map { "GET /now?i=\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined()
            // Sent while the answers are read, so neither side's buffers have to hold them all.
            async let sent: Void = client.sendAsync(Array(requests.utf8))
            for index in 0..<count {
                let response = try await client.readResponse()
                #expect(response.bodyText == "now /now?i=\(index)")
                if response.bodyText != "now /now?i=\(index)" { break }
            }
            try await sent
        }
        #expect(inline.seen.count == 1000)
    }

    @Test func anAnswerAfterTheClientLeftIsDropped() async throws {
        let inline = KindsInlineHandler()
        let trace = Trace()
        try await withInlineServer(inline, trace: trace) { server in
            // The client leaves with `/later` and `/thread` answers still to come; the server
            // must stay up and answer the next client.
            for _ in 0..<20 {
                // The client's socket closes when it goes out of scope.
                try connect(server).send("GET /later HTTP/1.1\r\nHost: t\r\n\r\nGET /thread HTTP/1.1\r\nHost: t\r\n\r\n")
            }
            let (response, _) = try await exchange(server, "GET /thread?next HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(response.bodyText == "thread /thread?next")
        }
    }
}
