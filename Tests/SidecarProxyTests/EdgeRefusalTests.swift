import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

/// Request smuggling refused at the proxy's edge: what the server refuses never reaches the
/// upstream, because the proxy re-serializes requests instead of passing bytes on.
@Suite("Sidecar proxy: smuggling attempts stop at the edge")
struct EdgeRefusalTests {
    static let attempts: [(name: String, request: String)] = [
        ("Content-Length with Transfer-Encoding",
         "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("two Content-Length fields",
         "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\nhelloGET /smuggled HTTP/1.1\r\n\r\n"),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"),
        ("an unknown transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
        ("a bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n"),
        ("a chunk size with a sign", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"),
        ("a space before the colon", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello"),
        ("a bare LF in a header", "GET / HTTP/1.1\r\nHost: x\nX-B: y\r\n\r\n"),
        ("a Host with a space and a path", "GET / HTTP/1.1\r\nHost: a b/c\r\nConnection: close\r\n\r\n"),
        ("a Host with userinfo", "GET / HTTP/1.1\r\nHost: user@x\r\nConnection: close\r\n\r\n"),
        ("a Host with a path, in HTTP/1.0", "GET / HTTP/1.0\r\nHost: x/../y\r\n\r\n"),
        // The bytes after a CONNECT are the tunnel's, never a next request (nginx: 400 and close).
        ("CONNECT, then tunnel bytes that read as a request",
         "CONNECT other.example:80 HTTP/1.1\r\nHost: other.example:80\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("CONNECT with an origin-form target", "CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
    ]

    @Test(arguments: attempts.indices)
    func theAttemptIsRefusedAndNeverReachesTheUpstream(index: Int) async throws {
        let attempt = Self.attempts[index]
        let upstream = try await RecordingUpstream.start(name: "u")
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            let raw = try RawSocketClient(connectTo: proxy.localAddress!)
            try raw.send(attempt.request)
            let bytes = try await raw.readUntilClose()
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 4") || text.hasPrefix("HTTP/1.1 5"), "\(attempt.name): \(text)")
            #expect(!text.contains("HTTP/1.1 200"), "\(attempt.name) was answered 200: \(text)")
            #expect(upstream.requests.isEmpty, "\(attempt.name) reached the upstream: \(upstream.requests.map(\.target))")
        }
        await upstream.stop()
    }

    /// The proxy tunnels nothing: `CONNECT` is a method it does not implement (501, not a 404
    /// for a route, nor passed on), and the connection closes after the answer. With an
    /// authority-form target it came to no route; with an origin-form one it reached the upstream.
    @Test(arguments: ["other.example:443", "/x"])
    func connectIsNotImplementedAndClosesTheConnection(target: String) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            let raw = try RawSocketClient(connectTo: proxy.localAddress!)
            try raw.send("CONNECT \(target) HTTP/1.1\r\nHost: other.example:443\r\nContent-Length: 0\r\n\r\n")
            let text = String(decoding: try await raw.readUntilClose(), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 501 "), "\(text)")
            #expect(text.contains("CONNECT"), "\(text)")
            #expect(upstream.requests.isEmpty)
        }
        await upstream.stop()
    }

    /// `TRACE` is answered 405 by the proxy (as nginx does), with or without `Max-Forwards` and
    /// a body: an upstream's echo would show a page's script the request's credentials. The
    /// connection stays usable: the next request on it reaches the upstream.
    @Test(arguments: ["", "Max-Forwards: 0\r\n", "Content-Length: 5\r\n"])
    func traceIsRefusedAndNeverEchoed(extra: String) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            let raw = try RawSocketClient(connectTo: proxy.localAddress!)
            let body = extra.hasPrefix("Content-Length") ? "hello" : ""
            try raw.send("TRACE /t HTTP/1.1\r\nHost: x\r\nCookie: secret=1\r\n\(extra)\r\n\(body)"
                + "GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let text = String(decoding: try await raw.readUntilClose(), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 405 "), "\(text)")
            #expect(text.contains("Allow: GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE"), "\(text)")
            #expect(!text.contains("secret=1"), "\(text)")
            #expect(upstream.requests.map(\.target) == ["/after"], "only the request after the TRACE reaches the upstream")
        }
        await upstream.stop()
    }

    /// The control: the same harness sees a well-formed request arrive.
    @Test func aWellFormedRequestDoesReachTheUpstream() async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            let raw = try RawSocketClient(connectTo: proxy.localAddress!)
            try raw.send("POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            let text = String(decoding: try await raw.readUntilClose(), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200"), "\(text)")
            #expect(upstream.requests.map(\.target) == ["/ok"])
            #expect(upstream.requests.first?.bodyBytes == 5)
        }
        await upstream.stop()
    }
}
