import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

/// The proxy in front of real servers: nginx and HAProxy answer with what they received, so the
/// rewritten request is checked by someone else's parser.
@Suite("Sidecar proxy: nginx and HAProxy as upstreams", .serialized)
struct RealUpstreamTests {
    static let nginxEcho = """
        underscores_in_headers on;
        location / {
            add_header X-Upstream nginx always;
            return 200 "$request_method $request_uri host=[$host] xff=[$http_x_forwarded_for] proto=[$http_x_forwarded_proto] xfh=[$http_x_forwarded_host] fwd=[$http_forwarded] id=[$http_app_id] key=[$http_app_key] hop=[$http_disco_sidecar_hop] te=[$http_te] len=[$content_length] body=[$request_body]";
        }
        location = /sized {
            return 200 "0123456789";
        }
        location /hop {
            add_header Connection "close, X-Hop" always;
            add_header X-Hop dropped always;
            return 200 "hop";
        }
        """

    @Test func requestsReachNginxRewrittenAndResponsesComeBackWithoutHopFields() async throws {
        let nginx = try await NginxFixture.start(http: "", server: Self.nginxEcho)
        defer { Task { await nginx.stop() } }
        let upstream = SocketAddress(numericHost: "127.0.0.1", port: nginx.port)!
        try await withProxy(proxyConfiguration([("nginx", upstream)])) { proxy in
            let client = HTTPClient()
            let response = try await client.send(HTTPClientRequest(url: proxy.url + "/a/b?c=1", headers: [
                "Host": "api.example", "X-Forwarded-For": "192.0.2.9", "TE": "trailers", "Connection": "TE",
                "app_id": "app", "app_key": "secret",
            ]))
            #expect(response.status == 200)
            #expect(response.headers["X-Upstream"] == "nginx")
            let hop = try await client.send(HTTPClientRequest(url: proxy.url + "/hop"))
            #expect(hop.bodyText == "hop")
            #expect(hop.headers["X-Hop"] == nil, "a field the upstream's Connection names is dropped")
            let text = response.bodyText
            #expect(text.hasPrefix("GET /a/b?c=1 host=[api.example]"), "\(text)")
            #expect(text.contains("xff=[192.0.2.9, 127.0.0.1]"), "\(text)")
            #expect(text.contains("proto=[http]") && text.contains("xfh=[api.example]"), "\(text)")
            #expect(text.contains("fwd=[for=127.0.0.1;host=api.example;proto=http]"), "\(text)")
            #expect(text.contains("id=[] key=[]"), "credentials reached the upstream: \(text)")
            #expect(text.contains("te=[]"), "a hop-by-hop field reached the upstream: \(text)")
            // Keep-alive to the upstream: many requests, one connection.
            for round in 0..<20 {
                let again = try await client.send(HTTPClientRequest(url: proxy.url + "/r\(round)"))
                #expect(again.status == 200)
            }
            #expect(await proxy.upstreamConnectionsOpened == 2, "one connection before /hop closed it, one after")
            await client.shutdown()
        }
    }

    /// nginx cannot echo a body by itself: an in-process upstream counts what arrives.
    @Test("a HEAD answer keeps nginx's Content-Length, and sends no body")
    func headAnswerKeepsTheUpstreamLength() async throws {
        let nginx = try await NginxFixture.start(http: "", server: Self.nginxEcho)
        defer { Task { await nginx.stop() } }
        let upstream = SocketAddress(numericHost: "127.0.0.1", port: nginx.port)!
        try await withProxy(proxyConfiguration([("nginx", upstream)])) { proxy in
            let address = try #require(proxy.localAddress)
            let client = try RawSocketClient(connectTo: address)
            try client.send("HEAD /sized HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = try await client.readResponse(headRequest: true)
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "10", "\(head)")
            try client.send("GET /sized HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await client.readResponse().bodyText == "0123456789")
        }
    }

    @Test func fixedAndChunkedBodiesArriveWhole() async throws {
        let recording = try await RecordingUpstream.start(name: "rec")
        try await withProxy(proxyConfiguration([("rec", recording.address)])) { proxy in
            let client = HTTPClient()
            let small = try await client.send(HTTPClientRequest(method: "POST", url: proxy.url + "/small", body: Array(repeating: 7, count: 1000)))
            #expect(small.bodyText == "rec POST /small 1000")
            let chunked = HTTPClientRequest(method: "PUT", url: proxy.url + "/big", bodyStream: .writer { writer in
                for _ in 0..<40 { try await writer.write([UInt8](repeating: 1, count: 50_000)) }
            })
            let big = try await client.send(chunked)
            #expect(big.bodyText == "rec PUT /big 2000000")
            let seen = recording.requests
            #expect(seen.map(\.bodyBytes) == [1000, 2_000_000])
            #expect(seen[0].headers["Content-Length"] == "1000")
            await client.shutdown()
        }
        await recording.stop()
    }

    @Test func haproxySeesTheRewrittenRequest() async throws {
        let haproxy = try await HAProxyFixture.start(frontend: """
            http-request return status 200 content-type text/plain lf-string "haproxy %[method] %[path] xff=%[req.hdr(x-forwarded-for)] key=%[req.hdr(app_key)] conn=%[req.hdr(connection)]"
            """)
        defer { Task { await haproxy.stop() } }
        let upstream = SocketAddress(numericHost: "127.0.0.1", port: haproxy.port)!
        try await withProxy(proxyConfiguration([("haproxy", upstream)])) { proxy in
            let client = HTTPClient()
            for round in 0..<10 {
                let response = try await client.send(HTTPClientRequest(url: proxy.url + "/h\(round)", headers: ["app_key": "s", "Connection": "keep-alive"]))
                #expect(response.status == 200)
                #expect(response.bodyText == "haproxy GET /h\(round) xff=127.0.0.1 key= conn=", "\(response.bodyText)")
            }
            #expect(await proxy.upstreamConnectionsOpened == 1, "HAProxy keeps the upstream connection alive")
            await client.shutdown()
        }
    }
}
