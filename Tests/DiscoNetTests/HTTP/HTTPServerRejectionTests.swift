import DiscoNet
import DiscoTestKit
import Testing

@Suite("HTTP server: strict parsing, each rejection answered and closed")
struct HTTPServerRejectionTests {
    @Test(arguments: [
        ("both Content-Length and Transfer-Encoding",
         "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("conflicting Content-Length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("invalid Content-Length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc", 400),
        ("unsupported transfer coding 'gzip'", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("unsupported transfer coding 'identity'", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n", 501),
        ("'chunked' applied more than once", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        ("obsolete line folding", "GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n  continued\r\n\r\n", 400),
        ("invalid character 0x40 in method", "G@T / HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("invalid character 0x28 in header name", "GET / HTTP/1.1\r\nHost: t\r\nBad(Name): 1\r\n\r\n", 400),
        ("whitespace between header name", "GET / HTTP/1.1\r\nHost: t\r\nX-A : 1\r\n\r\n", 400),
        ("bare LF", "GET / HTTP/1.1\nHost: t\r\n\r\n", 400),
        ("bare LF", "GET / HTTP/1.1\r\nHost: t\n\r\n", 400),
        ("chunk size overflows", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n", 400),
        ("invalid chunk size", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("chunk data not followed by CRLF", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 400),
        ("missing Host header", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
        ("multiple Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("control character 0x01 in value", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\u{01}b\r\n\r\n", 400),
        ("Transfer-Encoding is not allowed in an HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("HTTP version HTTP/2.0 is not supported", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ("request target", "GET nopath HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ])
    func rejects(reason: String, request: String, status: Int) async throws {
        try await withServer { server in
            try await expectRejected(server, request, status: status, reason: reason)
        }
    }

    @Test func identicalDuplicateContentLengthsAreFolded() async throws {
        try await withServer { server in
            let (response, _) = try await exchange(server, "POST /f HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
            #expect(response.status == 200)
            #expect(response.bodyText == "POST /f body=abc")
        }
    }

    @Test func smugglingAttemptNeverReachesTheHandlerAsASecondRequest() async throws {
        let seen = RequestLog()
        try await withServer(handler: { request in await seen.add(request.path); return .text("ok") }) { server in
            try await expectRejected(server,
                "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
                status: 400)
            #expect(await seen.paths.isEmpty)
        }
    }
}

/// Records request paths seen by a handler.
actor RequestLog {
    private(set) var paths: [String] = []
    func add(_ path: String) { paths.append(path) }
}
