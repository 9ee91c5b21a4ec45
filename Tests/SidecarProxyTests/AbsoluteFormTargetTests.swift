import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Synchronization
import Testing

// MARK: - Absolute-form targets through the proxy

/// `GET http://host:port/path HTTP/1.1` must be accepted (RFC 9112 §3.2.2), with the target's
/// authority in place of the received `Host`. The proxy routed the whole URL as a path (no
/// route matched it, or the upstream got a 400 for a target not starting with `/`); now the
/// upstream gets the request in origin form with `Host`, `X-Forwarded-Host` and `Forwarded`'s
/// `host=` taken from the target, on the inline lane and the general path alike, and a target
/// that is not an http(s) URL with a valid `host[:port]` is a JSON 400 that reaches no upstream.
@Suite("Sidecar proxy: absolute-form request targets")
struct AbsoluteFormTargetTests {
    /// An upstream that records each request head as it arrived (bytes, before any parser),
    /// reads a `Content-Length` body, and answers `200 ok`, keeping the connection.
    final class RawHeadUpstream: Sendable {
        let listener: TCPListener
        private let task: Task<Void, Never>
        private let received = HeadLog()

        /// The heads received, in order.
        final class HeadLog: Sendable {
            let heads = Mutex<[String]>([])
        }

        init() async throws {
            let listener = try await TCPListener.bind()
            self.listener = listener
            let received = self.received
            task = Task {
                await withDiscardingTaskGroup { group in
                    while let connection = try? await listener.accept() {
                        group.addTask { await Self.serve(connection, into: received) }
                    }
                    group.cancelAll()
                }
            }
        }

        private static func serve(_ connection: TCPConnection, into received: HeadLog) async {
            defer { connection.close() }
            var buffer: [UInt8] = []
            let end: [UInt8] = [13, 10, 13, 10]
            while true {
                var headEnd: Int?
                while headEnd == nil {
                    headEnd = buffer.indices.dropLast(3).first { Array(buffer[$0..<($0 + 4)]) == end }
                    if headEnd == nil {
                        guard let piece = try? await connection.read() else { return }
                        buffer += piece
                    }
                }
                guard let headEnd else { return }
                let head = String(decoding: buffer[..<headEnd], as: UTF8.self)
                let length = head.split(separator: "\r\n").compactMap { line -> Int? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                    return Int(String(parts[1].drop { $0 == " " }))
                }.first ?? 0
                buffer.removeFirst(headEnd + 4)
                while buffer.count < length {
                    guard let piece = try? await connection.read() else { return }
                    buffer += piece
                }
                buffer.removeFirst(length)
                received.heads.withLock { $0.append(head) }
                guard (try? await connection.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8))) != nil else { return }
            }
        }

        var address: SocketAddress { listener.localAddress }
        var heads: [String] { received.heads.withLock { $0 } }

        func stop() async {
            listener.close()
            task.cancel()
            await task.value
        }
    }

    /// The head's field values named `name`.
    static func values(_ name: String, in head: String) -> [String] {
        head.split(separator: "\r\n").dropFirst().compactMap { line -> String? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == name.lowercased() else { return nil }
            return String(parts[1].drop { $0 == " " })
        }
    }

    @Test(arguments: [
        // No body: the inline lane takes it (or, with the lane off, the general path).
        ("GET http://app.example:8080/api/items?page=2 HTTP/1.1\r\nHost: wrong.example\r\n\r\n", true,
         "GET /api/items?page=2 HTTP/1.1", "app.example:8080"),
        ("GET HTTP://app.example:8080/api/items?page=2 HTTP/1.1\r\nHost: wrong.example\r\n\r\n", false,
         "GET /api/items?page=2 HTTP/1.1", "app.example:8080"),
        ("GET http://[::1]:9 HTTP/1.1\r\nHost: wrong.example\r\n\r\n", true, "GET / HTTP/1.1", "[::1]:9"),
        // A body: the general path.
        ("POST https://app.example/api/items HTTP/1.1\r\nHost: wrong.example\r\nContent-Length: 5\r\n\r\nhello", true,
         "POST /api/items HTTP/1.1", "app.example"),
        // A server-wide OPTIONS goes on as `OPTIONS *` (RFC 9112 §3.2.4: an absolute-form OPTIONS
        // target without path or query goes to the origin server as `*`), whether it came so or
        // as `OPTIONS http://host:port`. The proxy sent the second as `OPTIONS /` and answered
        // the first 404 (no route for `*`).
        ("OPTIONS http://app.example:8080 HTTP/1.1\r\nHost: wrong.example\r\n\r\n", true, "OPTIONS * HTTP/1.1", "app.example:8080"),
        ("OPTIONS http://app.example:8080 HTTP/1.1\r\nHost: wrong.example\r\n\r\n", false, "OPTIONS * HTTP/1.1", "app.example:8080"),
        ("OPTIONS * HTTP/1.1\r\nHost: app.example\r\n\r\n", true, "OPTIONS * HTTP/1.1", "app.example"),
        ("OPTIONS * HTTP/1.1\r\nHost: app.example\r\n\r\n", false, "OPTIONS * HTTP/1.1", "app.example"),
    ])
    func theUpstreamGetsOriginFormWithTheTargetsAuthorityAsHost(request: String, inlineLane: Bool, line: String, host: String) async throws {
        let upstream = try await RawHeadUpstream()
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.inlineLane = inlineLane
        try await withProxy(configuration) { proxy in
            let raw = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
            try raw.send(request)
            let response = try await raw.readResponse()
            #expect(response.status == 200, "\(response)")
            #expect(response.bodyText == "ok")
        }
        let head = try #require(upstream.heads.first, "the upstream got no request")
        #expect(upstream.heads.count == 1)
        #expect(head.split(separator: "\r\n").first.map(String.init) == line, "\(head)")
        #expect(Self.values("Host", in: head) == [host], "\(head)")
        #expect(Self.values("X-Forwarded-Host", in: head) == [host], "\(head)")
        let forwarded = Self.values("Forwarded", in: head).joined()
        #expect(forwarded.contains("host=\(host)") || forwarded.contains("host=\"\(host)\""), "\(head)")
        #expect(!head.contains("wrong.example"), "the received Host was passed on: \(head)")
        await upstream.stop()
    }

    @Test(arguments: [
        ("GET ftp://app.example/x HTTP/1.1\r\nHost: h\r\n\r\n", "scheme 'ftp' is not supported"),
        ("GET http://user:pw@app.example/x HTTP/1.1\r\nHost: h\r\n\r\n", "userinfo"),
        ("GET http://app.example:99999/x HTTP/1.1\r\nHost: h\r\n\r\n", "expected a number from 0 to 65535"),
        ("GET http://app\"example/x HTTP/1.1\r\nHost: h\r\n\r\n", "invalid character '\"' in the host"),
        ("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", "needs a host"),
    ])
    func aBadAbsoluteTargetIsAJSON400ThatReachesNoUpstream(request: String, words: String) async throws {
        let upstream = try await RawHeadUpstream()
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            let raw = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
            try raw.send(request)
            let response = try await raw.readResponse()
            #expect(response.status == 400, "\(response)")
            #expect(response.header("Content-Type") == "application/json", "\(response)")
            let error = (try? JSONValue.parse(response.body))?["error"]?.stringValue ?? ""
            #expect(error.contains(words), "\(response.bodyText)")
        }
        #expect(upstream.heads.isEmpty, "\(upstream.heads)")
        await upstream.stop()
    }
}
