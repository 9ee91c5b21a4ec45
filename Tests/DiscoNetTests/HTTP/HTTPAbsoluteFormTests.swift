@testable import DiscoNet
import DiscoCore
import DiscoTestKit
import Testing

// MARK: - Absolute-form request targets

/// A server must accept `GET http://host:port/path HTTP/1.1` (RFC 9112 §3.2.2) and use the
/// target's authority in place of the received `Host`. The parser let `http://…` through as it
/// came (so routers matching paths answered 404) and refused `HTTP://…`; now the head carries
/// the path and query in origin form, its `Host` is the target's authority, and a target with
/// another scheme, userinfo or an authority that is not `host[:port]` is a 400 saying so.
@Suite("HTTP request parser: absolute-form targets")
struct HTTPAbsoluteFormTests {
    /// The one head `text` parses to (an error fails the test).
    static func head(_ text: String) throws -> HTTPRequestHead {
        let outcome = HTTPRequestParser.parseAll(Array(text.utf8), splits: [])
        if let error = outcome.error { Issue.record("\(text.debugDescription): \(error)") }
        return try #require(outcome.requests.first?.head)
    }

    /// The error `text` is refused with.
    static func refusal(_ text: String) throws -> HTTPParseError {
        let outcome = HTTPRequestParser.parseAll(Array(text.utf8), splits: [])
        #expect(outcome.requests.isEmpty, "\(text.debugDescription) was accepted")
        return try #require(outcome.error, "\(text.debugDescription) was accepted")
    }

    @Test(arguments: [
        ("GET http://127.0.0.1:4001/status?x=1 HTTP/1.1\r\nHost: elsewhere\r\n\r\n", "/status?x=1", "127.0.0.1:4001"),
        ("GET HTTP://Node.Example/a/b HTTP/1.1\r\nHost: h\r\n\r\n", "/a/b", "Node.Example"),
        ("GET https://h:443/ HTTP/1.1\r\nHost: h\r\n\r\n", "/", "h:443"),
        ("GET HtTpS://h HTTP/1.1\r\nHost: h\r\n\r\n", "/", "h"),
        ("GET http://h?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", "/?q=1", "h"),
        ("GET http://h:/p HTTP/1.1\r\nHost: h\r\n\r\n", "/p", "h"),
        ("GET http://[::1]:8080/p HTTP/1.1\r\nHost: h\r\n\r\n", "/p", "[::1]:8080"),
        ("GET http://[2001:db8::ffff:10.0.0.1]/p HTTP/1.1\r\nHost: h\r\n\r\n", "/p", "[2001:db8::ffff:10.0.0.1]"),
        ("GET http://my-host_1.svc%2Dx/p HTTP/1.1\r\nHost: h\r\n\r\n", "/p", "my-host_1.svc%2Dx"),
        // HTTP/1.0 needs no Host: the target's authority becomes it.
        ("GET http://h:81/p HTTP/1.0\r\n\r\n", "/p", "h:81"),
    ])
    func anAbsoluteTargetIsReadAsItsPathWithItsAuthorityAsHost(request: String, target: String, host: String) throws {
        let head = try Self.head(request)
        #expect(head.target == target)
        #expect(head.targetForm == .absolute)
        #expect(head.headers.values(for: "Host") == [host], "the received Host is ignored")
    }

    @Test func theHostKeepsItsPlaceAmongTheFields() throws {
        let head = try Self.head("GET http://a:1/x HTTP/1.1\r\nX-First: 1\r\nhost: b\r\nX-Last: 2\r\n\r\n")
        #expect(head.headers.fields.map { "\($0.name): \($0.value)" } == ["X-First: 1", "host: a:1", "X-Last: 2"])
    }

    /// `OPTIONS http://host:port` (no path, no query) is the server as a whole, as `OPTIONS *`
    /// is: its target is `*`, so it goes on as `OPTIONS *`, not `OPTIONS /` (RFC 9112 §3.2.4).
    /// A path or a query, or another method, keeps the path (`/` when it is empty).
    @Test(arguments: [
        ("OPTIONS http://h:8080 HTTP/1.1\r\nHost: x\r\n\r\n", "*"),
        ("OPTIONS HTTP://h HTTP/1.1\r\nHost: x\r\n\r\n", "*"),
        ("OPTIONS http://h:8080/ HTTP/1.1\r\nHost: x\r\n\r\n", "/"),
        ("OPTIONS http://h:8080?q HTTP/1.1\r\nHost: x\r\n\r\n", "/?q"),
        ("GET http://h:8080 HTTP/1.1\r\nHost: x\r\n\r\n", "/"),
    ])
    func anOptionsTargetWithoutPathOrQueryIsTheServerAsAWhole(request: String, target: String) throws {
        let head = try Self.head(request)
        #expect(head.target == target)
        #expect(head.targetForm == .absolute)
        #expect(head.headers.values(for: "Host") != ["x"], "the target's authority is the Host")
    }

    @Test func otherFormsAreTold() throws {
        #expect(try Self.head("GET /p HTTP/1.1\r\nHost: h\r\n\r\n").targetForm == .origin)
        #expect(try Self.head("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").targetForm == .asterisk)
        let connect = try Self.head("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n")
        #expect(connect.targetForm == .authority)
        #expect(connect.target == "h:443")
    }

    @Test(arguments: [
        ("GET ftp://h/p HTTP/1.1\r\nHost: h\r\n\r\n", "scheme 'ftp' is not supported"),
        ("GET http:/p HTTP/1.1\r\nHost: h\r\n\r\n", "has no authority; expected 'http://host[:port]/path'"),
        ("GET http://user:secret@h/p HTTP/1.1\r\nHost: h\r\n\r\n", "userinfo"),
        ("GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n", "needs a host"),
        ("GET http://:80/p HTTP/1.1\r\nHost: h\r\n\r\n", "has no host"),
        ("GET http://h:http/p HTTP/1.1\r\nHost: h\r\n\r\n", "expected a number from 0 to 65535"),
        ("GET http://h:65536/p HTTP/1.1\r\nHost: h\r\n\r\n", "expected a number from 0 to 65535"),
        ("GET http://h:1:2/p HTTP/1.1\r\nHost: h\r\n\r\n", "expected a number from 0 to 65535"),
        ("GET http://h\"x/p HTTP/1.1\r\nHost: h\r\n\r\n", "invalid character '\"' in the host"),
        ("GET http://h#f/p HTTP/1.1\r\nHost: h\r\n\r\n", "invalid character '#' in the host"),
        ("GET http://h%zz/p HTTP/1.1\r\nHost: h\r\n\r\n", "invalid character '%' in the host"),
        ("GET http://[::1/p HTTP/1.1\r\nHost: h\r\n\r\n", "malformed IP literal"),
        ("GET http://[1:2]/p HTTP/1.1\r\nHost: h\r\n\r\n", "malformed IP literal"),
        ("GET http://[::1]x/p HTTP/1.1\r\nHost: h\r\n\r\n", "bytes after its IP literal"),
        ("GET http://[::1%25eth0]/p HTTP/1.1\r\nHost: h\r\n\r\n", "malformed IP literal"),
        // Host is still required of HTTP/1.1 (RFC 9112 §3.2), and only once.
        ("GET http://h/p HTTP/1.1\r\n\r\n", "missing Host header"),
        ("GET http://h/p HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "multiple Host headers"),
        ("GET nopath HTTP/1.1\r\nHost: h\r\n\r\n", "invalid request target"),
    ])
    func aTargetThatIsNotAnHTTPURLWithAHostIsRefused(request: String, words: String) throws {
        let error = try Self.refusal(request)
        #expect(error.status == 400)
        #expect(error.reason.contains(words), "\(error.reason)")
    }

    @Test func theUserinfoIsNotRepeatedInTheAnswer() throws {
        let error = try Self.refusal("GET http://user:secret@h/p HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(!error.reason.contains("secret"), "\(error.reason)")
    }

    @Test(arguments: ["::", "::1", "1::", "1:2:3:4:5:6:7:8", "1::8", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "fe80::1:2"])
    func validIPv6Addresses(_ text: String) {
        #expect(HTTPAbsoluteTarget.isIPv6(Array(text.utf8)[...]))
    }

    @Test(arguments: [":", ":::", "1:2", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "12345::", "::1.2.3", "::01.2.3.4",
                      "::256.1.1.1", "1:", ":1", "g::1", "1.2.3.4"])
    func invalidIPv6Addresses(_ text: String) {
        #expect(!HTTPAbsoluteTarget.isIPv6(Array(text.utf8)[...]))
    }

    // MARK: On a server

    /// A handler matching paths gets the absolute-form request as its path, with the target's
    /// authority as `Host`.
    @Test func aServerHandsTheRequestOnInOriginForm() async throws {
        try await withServer(handler: { request in .text("\(request.method) \(request.target) \(request.path) host=\(request.headers["Host"] ?? "-")") }) { server in
            let (response, _) = try await exchange(server, "GET http://127.0.0.1:9/status?x=1 HTTP/1.1\r\nHost: wrong\r\n\r\n")
            #expect(response.status == 200)
            #expect(response.bodyText == "GET /status?x=1 /status host=127.0.0.1:9")
        }
    }

    @Test func aServerRefusesABadAbsoluteTargetAndCloses() async throws {
        try await withServer { server in
            try await expectRejected(server, "GET gopher://h/p HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, reason: "scheme 'gopher' is not supported")
        }
    }
}
