import DiscoNet
import DiscoTestKit
import Testing

/// Answers `/now` at once, on the loop inside the parse that read it (as a proxy's inline lane
/// answers a request a rate limit rejects), and `/after-fin` after 300 ms, by which time the
/// client's FIN, sent right after the request, has been read (were it read later, the test
/// would pass without showing anything, never fail wrongly).
private struct NowAndAfterFinHandler: HTTPInlineHandler {
    func handle(_ request: HTTPRequest, reply: HTTPInlineReply) -> Bool { handle(path: request.path, reply: reply) }

    func handle(path: String, reply: HTTPInlineReply) -> Bool {
        switch path {
        case "/now":
            reply.respond(.text("now"))
        case "/after-fin":
            reply.respond(later: {
                do { try await Task.sleep(for: .milliseconds(300)) } catch { return .text("cancelled\n", status: 503) }
                return .text("after fin")
            })
        default:
            return false
        }
        return true
    }
}

@Suite("HTTP server: a pipelining client that half-closes, behind a request answered at once")
struct HTTPPipelinedHalfCloseTests {
    /// The client pipelines two requests in one write and half-closes. The first is answered at
    /// once, inside the parse; the second was sent before that answer, so the client pipelines
    /// and its FIN is a half-close: it gets both answers. Before, the server decided whether a
    /// client pipelines only from bytes left over while a request was in flight; a request
    /// answered inside the parse left none, so the second request counted as the client's only
    /// one, its FIN as leaving, and the connection closed without its answer.
    @Test(arguments: [false, true])
    func theRequestBehindAnAnswerGivenAtOnceIsStillAnswered(headViews: Bool) async throws {
        var configuration = HTTPServerConfiguration()
        configuration.inlineHandler = headViews ? ViewTakingHandler() : NowAndAfterFinHandler()
        try await withServer(configuration, responder: HTTPResponder { _ in .text("responder") }) { server in
            let client = try connect(server)
            try client.send("GET /now HTTP/1.1\r\nHost: t\r\n\r\nGET /after-fin HTTP/1.1\r\nHost: t\r\n\r\n")
            client.shutdownWrite()
            #expect(try await client.readResponse().bodyText == "now")
            let second = try await client.readResponse()
            #expect(second.bodyText == "after fin", "\(second)")
            #expect(try await client.isClosedByPeer())
        }
    }
}

/// ``NowAndAfterFinHandler`` taking simple heads in place (the proxy's default), declining nothing.
private struct ViewTakingHandler: HTTPInlineHandler {
    let inner = NowAndAfterFinHandler()
    var takesHeadViews: Bool { true }

    func handle(_ request: HTTPRequest, reply: HTTPInlineReply) -> Bool { inner.handle(request, reply: reply) }

    func handle(head: HTTPRequestHeadView, reply: HTTPInlineReply) -> Bool {
        inner.handle(path: head.path, reply: reply)
    }
}
