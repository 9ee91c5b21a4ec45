import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

// MARK: - Interim (1xx) responses: parsed and handed on by the client, sent by the server

/// What a test collects from callbacks on other threads.
private final class CollectedValues<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}

/// A gate a handler waits at until the test opens it.
private final class HandlerGate: Sendable {
    private let open = Atomic<Bool>(false)
    func release() { open.store(true, ordering: .relaxed) }
    func wait() async throws { try await waitUntil("the test to open the gate", timeout: .seconds(60)) { open.load(ordering: .relaxed) } }
}

@Suite("HTTP interim (1xx) responses", .timeLimit(.minutes(2)))
struct HTTPInterimResponseTests {
    static let hint = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nLink: </b.js>; rel=preload\r\n\r\n"
    static let final = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"

    private static func parse(_ text: String) throws -> [HTTPResponseParserEvent] {
        var parser = HTTPResponseParser(requestMethod: "GET")
        var events: [HTTPResponseParserEvent] = []
        _ = try Array(text.utf8).withUnsafeBufferPointer { try parser.parse($0, into: &events) }
        return events
    }

    // MARK: Parser

    /// Each interim head is an event of its own, with its fields, in order, before the final head.
    @Test func theParserReportsEachInterimHeadInOrder() throws {
        let events = try Self.parse(Self.hint + "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 199 Misc\r\nX-Note: n\r\n\r\n" + Self.final)
        let interim = events.compactMap { event -> HTTPResponseHead? in if case .interim(let head) = event { head } else { nil } }
        #expect(interim.map(\.status) == [103, 100, 199])
        #expect(interim.first?.headers.values(for: "Link") == ["</a.css>; rel=preload", "</b.js>; rel=preload"])
        #expect(interim.last?.headers["X-Note"] == "n")
        guard events.count == 6, case .head(let head) = events[3] else {
            Issue.record("expected three interim heads, the head, the body and the end: \(events)")
            return
        }
        #expect(head.status == 200)
    }

    /// A server that loops 1xx is refused past the limit, naming it; at the limit the final
    /// response is still read.
    @Test func moreInterimResponsesThanTheLimitAreRefused() throws {
        let limit = HTTPResponseParser.maxInterimResponses
        let atLimit = try Self.parse(String(repeating: Self.hint, count: limit) + Self.final)
        #expect(atLimit.filter { if case .interim = $0 { true } else { false } }.count == limit)
        #expect(atLimit.contains { if case .head(let head) = $0 { head.status == 200 } else { false } })
        do {
            _ = try Self.parse(String(repeating: Self.hint, count: limit + 1) + Self.final)
            Issue.record("\(limit + 1) interim responses were accepted")
        } catch let error as HTTPParseError {
            #expect(error.reason.contains("more than \(limit) interim (1xx) responses"), "\(error.reason)")
        }
    }

    // MARK: Client

    /// `onInterim` gets each interim response while the final one has not been sent yet.
    @Test func theClientHandsOnInterimResponsesBeforeTheFinalOneExists() async throws {
        let upstream = try await HeldResponseUpstream { _ in .init(first: Self.hint + "HTTP/1.1 100 Continue\r\n\r\n", held: Self.final) }
        let seen = CollectedValues<HTTPInterimResponse>()
        var request = HTTPClientRequest(url: "http://\(upstream.address)/a")
        request.onInterim = { seen.append($0) }
        let client = HTTPClient()
        let exchange = Task { try await client.send(request) }
        try await waitUntil("the 103 and the 100 to be handed on") { seen.all.count == 2 }
        #expect(seen.all.map(\.status) == [103, 100])
        #expect(seen.all.first?.headers.values(for: "Link") == ["</a.css>; rel=preload", "</b.js>; rel=preload"])
        upstream.release()
        let response = try await exchange.value
        #expect(response.status == 200 && response.body == Array("final".utf8))
        await client.shutdown()
        await upstream.stop()
    }

    /// An inline exchange asked to report them passes each to its completion as `.interim`,
    /// before the final response exists; one not asked skips them.
    @Test func anInlineExchangeReportsInterimResponsesWhenAsked() async throws {
        let upstream = try await HeldResponseUpstream { seen in
            seen.target == "/warm" ? .init(first: okAnswer) : .init(first: Self.hint, held: Self.final)
        }
        let side = try OneLoopClient()
        let base = "http://\(upstream.address)"
        for reporting in [true, false] {
            // An idle connection on the only loop for the inline exchange.
            #expect(try await side.client.send(HTTPClientRequest(url: base + "/warm")).status == 200)
            let outcomes = CollectedValues<String>()
            let (ended, continuation) = AsyncStream.makeStream(of: HTTPClientStreamingResponse?.self)
            let loop = side.loop
            let client = side.client
            let ticket = upstream.heldAnswers + 1
            let applied = try await loop.submit {
                client.executeInline(HTTPClientRequest(url: base + "/hinted"), on: loop, reportingInterim: reporting) { outcome in
                    switch outcome {
                    case .interim(let interim):
                        outcomes.append("\(interim.status) \(interim.headers.values(for: "Link").joined(separator: ", "))")
                    case .started(let response):
                        continuation.yield(response)
                        continuation.finish()
                    default:
                        outcomes.append("\(outcome)")
                        continuation.yield(nil)
                        continuation.finish()
                    }
                }
            }
            #expect(applied)
            try await waitUntil("the upstream to hold its final response") { upstream.heldAnswers == ticket }
            if reporting {
                try await waitUntil("the 103 to be reported") { !outcomes.all.isEmpty }
                #expect(outcomes.all == ["103 </a.css>; rel=preload, </b.js>; rel=preload"])
            }
            upstream.release()
            var final: HTTPClientStreamingResponse?
            for await response in ended { final = response }
            let response = try #require(final, "\(outcomes.all)")
            #expect(response.status == 200)
            #expect(try await response.body.collect(upTo: 100) == Array("final".utf8))
            #expect(outcomes.all.count == (reporting ? 1 : 0), "\(outcomes.all)")
        }
        await side.close()
        await upstream.stop()
    }

    // MARK: Server

    /// A handler's interim responses reach an HTTP/1.1 client at once, before the handler has
    /// answered, without framing or `Connection` fields; statuses that are not interim ones
    /// (100, 101, 2xx) are refused, and so is anything once the response has started.
    @Test func aHandlerSendsInterimResponsesBeforeItAnswers() async throws {
        let gate = HandlerGate()
        let results = CollectedValues<String>()
        let responder = HTTPResponder { request in
            guard let sender = request.interimSender else { return .text("no sender", status: 500) }
            for status in [100, 101, 200] where await sender.send(HTTPInterimResponse(status: status)) {
                results.append("sent \(status)")
            }
            let hint = HTTPInterimResponse(status: 103, headers: ["Link": "</a.css>; rel=preload", "Connection": "x", "Content-Length": "5",
                                                                  "Transfer-Encoding": "chunked"])
            results.append("103 \(await sender.send(hint))")
            if request.version.minor >= 1 { try await gate.wait() }
            return HTTPResponse(body: .stream { writer in
                results.append("after start \(await sender.send(HTTPInterimResponse(status: 103)))")
                try await writer.write(Array("final".utf8))
            })
        }
        try await withServer(responder: responder) { server in
            let client = try connect(server)
            try client.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
            let hint = try await client.readResponse()
            #expect(hint.status == 103 && hint.headers.map(\.name) == ["Link"], "\(hint)")
            gate.release()
            let final = try await client.readResponse()
            #expect(final.status == 200 && final.bodyText == "final")
            #expect(results.all == ["103 true", "after start false"])

            // An HTTP/1.0 client gets none: only the final response.
            let old = try connect(server)
            try old.send("GET /b HTTP/1.0\r\nHost: t\r\n\r\n")
            let only = try await old.readResponse()
            #expect(only.status == 200 && only.bodyText == "final", "\(only)")
            #expect(results.all.suffix(2) == ["103 false", "after start false"])
        }
    }
}
