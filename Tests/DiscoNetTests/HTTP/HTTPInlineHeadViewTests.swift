import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

// MARK: - An inline handler that takes heads in place

/// Answers `/view…` heads taken in place with what it saw in the view and what
/// ``HTTPInlineReply/request()`` parsed again; answers parsed requests to `/view…` as
/// `request …` (the heads that were not simple); declines `/declined` in both forms.
/// `/later…` heads are answered from a later turn, after asking for the request again there.
final class ViewInlineHandler: HTTPInlineHandler {
    private let offered = Mutex<[String]>([])
    var takesHeadViews: Bool { true }

    /// `view METHOD target` or `request METHOD target` of every call, in order.
    var seen: [String] { offered.withLock { $0 } }

    func handle(head: HTTPRequestHeadView, reply: HTTPInlineReply) -> Bool {
        offered.withLock { $0.append("view \(head.method) \(head.target)") }
        if head.targetHasPrefix("/declined") { return false }
        let fields = head.fields.map { String(decoding: head.name($0), as: UTF8.self) + "=" + String(decoding: head.value($0), as: UTF8.self) }
        let seen = "\(head.method) \(head.target) path=\(head.path) fields=\(fields.joined(separator: ","))"
        guard let request = reply.request() else {
            reply.respond(HTTPResponse(status: 500, bytes: Array("no request".utf8)))
            return true
        }
        let parsed = "\(request.method) \(request.target) path=\(request.path) fields="
            + request.headers.fields.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
        if head.targetHasPrefix("/later") {
            reply.loop.execute {
                let again = reply.request().map { "\($0.method) \($0.target)" } ?? "gone"
                reply.respond(HTTPResponse(headers: ["X-Path": "view"], bytes: Array("view \(seen)\nagain \(again)".utf8)))
            }
            return true
        }
        reply.respond(HTTPResponse(headers: ["X-Path": "view"], bytes: Array("view \(seen)\nparsed \(parsed)".utf8)))
        return true
    }

    func handle(_ request: HTTPRequest, reply: HTTPInlineReply) -> Bool {
        offered.withLock { $0.append("request \(request.method) \(request.target)") }
        if request.target.hasPrefix("/declined") { return false }
        #expect(reply.request() == nil, "a parsed request is not kept as a head")
        reply.respond(HTTPResponse(headers: ["X-Path": "request"], bytes: Array("request \(request.method) \(request.target)".utf8)))
        return true
    }
}

// MARK: - Tests

@Suite("HTTP server: simple heads offered in place", .timeLimit(.minutes(2)))
struct HTTPInlineHeadViewTests {
    private func withViewServer<T>(_ inline: ViewInlineHandler, _ body: (HTTPServer) async throws -> T) async throws -> T {
        var configuration = HTTPServerConfiguration()
        configuration.inlineHandler = inline
        return try await withServer(configuration, responder: countingResponder, body)
    }

    /// The same on a group of one loop: every connection's readiness is handled by one thread.
    private func withOneLoopViewServer<T>(_ inline: ViewInlineHandler, _ body: (HTTPServer) async throws -> T) async throws -> T {
        var configuration = HTTPServerConfiguration()
        configuration.inlineHandler = inline
        let group = try EventLoopGroup(threads: 1, name: "disco-test-view")
        defer { group.shutdown() }
        return try await withServer(configuration, group: group, responder: countingResponder, body)
    }

    @Test func aSimpleHeadComesAsAViewThatMatchesTheParsedRequest() async throws {
        let inline = ViewInlineHandler()
        try await withViewServer(inline) { server in
            let client = try connect(server)
            try client.send("GET /view/a?b=1 HTTP/1.1\r\nHost: h.test\r\nX-Pad:  v w \t\r\nX-Empty:\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.header("X-Path") == "view")
            let lines = response.bodyText.split(separator: "\n").map(String.init)
            #expect(lines.first == "view GET /view/a?b=1 path=/view/a fields=Host=h.test,X-Pad=v w,X-Empty=")
            #expect(lines.last == "parsed GET /view/a?b=1 path=/view/a fields=Host=h.test,X-Pad=v w,X-Empty=")
        }
        #expect(inline.seen == ["view GET /view/a?b=1"])
    }

    /// Heads that are not simple come parsed, in order with the simple ones, on one connection
    /// and pipelined in one write; a declined view is offered again parsed, then reaches the
    /// responder; an answer given a turn later can still ask for its request.
    @Test func everyHeadTakesItsPathInOrder() async throws {
        let inline = ViewInlineHandler()
        let requests: [(text: String, body: String)] = [
            ("GET /view/1 HTTP/1.1\r\nHost: h\r\n\r\n", "view GET /view/1"),
            ("GET /view/2 HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", "request GET /view/2"),
            ("DELETE /view/3 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", "request DELETE /view/3"),
            ("GET /view/4 HTTP/1.1\r\nHost: h\r\nX-Name: caf\u{E9}\r\n\r\n", "request GET /view/4"),
            ("GET /declined HTTP/1.1\r\nHost: h\r\n\r\n", "responder GET /declined body=0"),
            ("GET /later/5 HTTP/1.1\r\nHost: h\r\n\r\n", "view GET /later/5"),
            ("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "request OPTIONS *"),
            ("HEAD /view/6 HTTP/1.1\r\nHost: h\r\n\r\n", ""),
            ("GET /view/7 HTTP/1.1\r\nHost: h\r\n\r\n", "view GET /view/7"),
        ]
        try await withViewServer(inline) { server in
            for pipelined in [false, true] {
                let client = try connect(server)
                if pipelined { try client.send(requests.map(\.text).joined()) }
                for request in requests {
                    if !pipelined { try client.send(request.text) }
                    let response = try await client.readResponse(headRequest: request.text.hasPrefix("HEAD"))
                    #expect(response.status == 200)
                    #expect(response.bodyText.hasPrefix(request.body), "\(request.text.debugDescription): \(response.bodyText)")
                }
                #expect(!client.hasBytesWaiting())
            }
        }
        #expect(inline.seen.filter { $0.contains("/declined") } == Array(repeating: ["view GET /declined", "request GET /declined"], count: 2).flatMap { $0 })
    }

    @Test func aLaterAnswerAsksForTheRequestAgain() async throws {
        let inline = ViewInlineHandler()
        try await withViewServer(inline) { server in
            let (response, _) = try await exchange(server, "GET /later/x?y HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(response.bodyText == "view GET /later/x?y path=/later/x fields=Host=h\nagain GET /later/x?y")
        }
    }

    /// A head that arrives in pieces is the parser's once it has scanned part of it, and the
    /// next head on the connection, arriving whole, comes as a view again (the parser was left
    /// consistent). With one loop, each round trip on another connection between the pieces
    /// makes the loop read what had arrived, so the first read holds only the first piece.
    @Test func aHeadInPiecesIsParsedAndTheNextComesAsAView() async throws {
        let inline = ViewInlineHandler()
        try await withOneLoopViewServer(inline) { server in
            let client = try connect(server)
            for round in 0..<5 {
                let head = Array("GET /view/slow\(round) HTTP/1.1\r\nHost: h\r\nX-Round: \(round)\r\n\r\n".utf8)
                for piece in stride(from: 0, to: head.count, by: 7) {
                    try client.send(Array(head[piece..<min(piece + 7, head.count)]))
                    // A round trip on another connection lets the server read what was sent.
                    _ = try await exchange(server, "GET /view/other HTTP/1.1\r\nHost: h\r\n\r\n")
                }
                #expect(try await client.readResponse().bodyText == "request GET /view/slow\(round)")
                try client.send("GET /view/fast\(round) HTTP/1.1\r\nHost: h\r\n\r\n")
                #expect(try await client.readResponse().bodyText.hasPrefix("view GET /view/fast\(round) "))
            }
        }
    }

    @Test func connectionCloseThroughAViewClosesAfterTheAnswer() async throws {
        let inline = ViewInlineHandler()
        try await withViewServer(inline) { server in
            let client = try connect(server)
            try client.send("GET /view/c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /view/behind HTTP/1.1\r\nHost: h\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.bodyText.hasPrefix("view GET /view/c"))
            #expect(response.header("Connection")?.lowercased() == "close")
            #expect(try await client.isClosedByPeer())
        }
        #expect(!inline.seen.contains { $0.contains("/behind") })
    }
}
