import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

@Suite("Sidecar proxy: WebSocket and TCP pass-through")
struct PassThroughTests {
    /// An upstream that switches to `websocket` and echoes every byte, after telling in a header
    /// which key it was sent.
    static func webSocketEcho() async throws -> HTTPServer {
        try await HTTPServer.start(responder: HTTPResponder { request in
            guard request.headers.hasToken("upgrade", in: "Connection"), request.headers["Upgrade"] == "websocket" else {
                return .text("not an upgrade", status: 426)
            }
            let key = request.headers["Sec-WebSocket-Key"] ?? ""
            return .switchingProtocols(to: "websocket", headers: ["Sec-WebSocket-Accept": "accept-" + key]) { upgraded in
                if !upgraded.initialBytes.isEmpty { try? await upgraded.connection.write(upgraded.initialBytes) }
                while let piece = try? await upgraded.connection.read() { try? await upgraded.connection.write(piece) }
            }
        })
    }

    @Test func aWebSocketIsSplicedToTheUpstream() async throws {
        let upstream = try await Self.webSocketEcho()
        try await withProxy(proxyConfiguration([("ws", upstream.localAddress)])) { proxy in
            let client = HTTPClient()
            let result = try await client.upgrade(HTTPClientRequest(url: proxy.url + "/api/v1/streams/valid_transactions", headers: [
                "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZQ==", "Sec-WebSocket-Version": "13",
            ]))
            #expect(result.response.status == 101)
            #expect(result.response.headers["Sec-WebSocket-Accept"] == "accept-dGhlIHNhbXBsZQ==")
            let upgraded = try #require(result.upgraded)
            // A masked text frame "hello", as a browser sends it; the echo returns it as is.
            let frame: [UInt8] = [0x81, 0x85, 1, 2, 3, 4] + Array("hello".utf8).enumerated().map { $0.element ^ UInt8($0.offset % 4 + 1) }
            for _ in 0..<3 {
                try await upgraded.connection.write(frame)
                var echoed = upgraded.initialBytes
                while echoed.count < frame.count, let piece = try await upgraded.connection.read() { echoed += piece }
                #expect(echoed == frame)
            }
            upgraded.connection.close()
            // A request without the upgrade is relayed as the upstream answered it.
            let plain = try await client.send(HTTPClientRequest(url: proxy.url + "/api/v1/streams/valid_transactions"))
            #expect(plain.status == 426)
            await client.shutdown()
        }
        await upstream.shutdown(gracePeriod: .seconds(1))
    }

    // MARK: Upgrades the upstream declines

    /// Reads from `raw` a byte at a time until what has arrived contains `marker` (the raw
    /// client's receive timeout bounds a hang).
    static func read(from raw: RawSocketClient, until marker: String, after bytes: [UInt8] = []) async throws -> [UInt8] {
        var bytes = bytes
        while !String(decoding: bytes, as: UTF8.self).contains(marker) { bytes += try await raw.read(count: 1) }
        return bytes
    }

    /// An upgrade the upstream does not take (`curl --http2` asks for `h2c` on every http://
    /// URL) is relayed like any other response: the head at once and the body as it arrives,
    /// with the same hop-by-hop fields removed. A body that pauses used to be held back until
    /// its end and came out as a 504 after the read timeout.
    @Test func aDeclinedUpgradeStreamsTheUpstreamsAnswer() async throws {
        let upstream = try await ScriptedTCPUpstream(
            script: Array(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n").utf8),
            later: Array("6\r\nsecond\r\n0\r\n\r\n".utf8))
        var configuration = proxyConfiguration([("streaming", upstream.address)])
        // Bounds the pre-fix wait for the whole body; the body pauses only until "first" is seen.
        configuration.readTimeout = .seconds(10)
        try await withProxy(configuration) { proxy in
            let raw = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
            try raw.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
            var bytes = try await Self.read(from: raw, until: "\r\n\r\n")
            let head = String(decoding: bytes, as: UTF8.self)
            try #require(head.hasPrefix("HTTP/1.1 200"), "\(head.debugDescription)")
            #expect(!head.lowercased().contains("x-hop"), "\(head.debugDescription)")
            #expect(!head.lowercased().contains("keep-alive: timeout"), "\(head.debugDescription)")
            #expect(head.contains("Content-Type: text/plain"), "\(head.debugDescription)")
            // The first piece arrives while the upstream still holds the rest.
            bytes = try await Self.read(from: raw, until: "first", after: bytes)
            upstream.release()
            bytes = try await Self.read(from: raw, until: "0\r\n\r\n", after: bytes)
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.contains("second"), "\(text.debugDescription)")
        }
        await upstream.stop()
    }

    /// A large answer to a declined upgrade passes through whole and unchanged (it is relayed as
    /// a stream, not gathered in memory first).
    @Test func aLargeAnswerToADeclinedUpgradePassesThroughIntact() async throws {
        let size = 6 * 1024 * 1024 + 17
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 13) }
        let upstream = try await HTTPServer.start(responder: HTTPResponder { _ in
            HTTPResponse(headers: ["Content-Type": "application/octet-stream"], bytes: payload)
        })
        try await withProxy(proxyConfiguration([("big", upstream.localAddress)])) { proxy in
            let client = HTTPClient()
            let response = try await client.send(HTTPClientRequest(url: proxy.url + "/big", headers: ["Connection": "Upgrade", "Upgrade": "h2c"]),
                                                 timeout: .seconds(120))
            #expect(response.status == 200)
            #expect(response.headers["Content-Type"] == "application/octet-stream")
            #expect(response.body.count == size)
            #expect(response.body == payload)
            await client.shutdown()
        }
        await upstream.shutdown(gracePeriod: .seconds(1))
    }

    /// `Upgrade: h2c` is not passed on, even to an upstream that would switch: the spliced
    /// connection would carry HTTP/2 requests past the routes, rate limits and key checks (h2c
    /// smuggling). The request reaches the upstream as plain HTTP/1.1 without `Upgrade`, and the
    /// client's connection stays an HTTP/1.1 connection. It used to be spliced.
    @Test func anH2CUpgradeIsNotPassedOn() async throws {
        let upstream = try await HTTPServer.start(responder: HTTPResponder { request in
            guard let protocolName = request.headers["Upgrade"] else {
                return .text("plain \(request.target) settings=\(request.headers["HTTP2-Settings"] ?? "none")")
            }
            return .switchingProtocols(to: protocolName) { upgraded in
                while let piece = try? await upgraded.connection.read() { try? await upgraded.connection.write(piece) }
            }
        })
        try await withProxy(proxyConfiguration([("h2c", upstream.localAddress)])) { proxy in
            let raw = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
            for upgrade in ["h2c", "H2C"] {
                try raw.send("GET /\(upgrade) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: \(upgrade)\r\n"
                    + "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
                let response = try await raw.readResponse()
                #expect(response.status == 200, "\(response)")
                #expect(response.header("Upgrade") == nil, "\(response)")
                #expect(response.bodyText == "plain /\(upgrade) settings=none")
            }
            // Still an HTTP connection: a WebSocket upgrade on it is passed on and spliced.
            try raw.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            #expect(try await raw.readResponse().status == 101)
            try raw.send("ping")
            #expect(try await raw.read(count: 4) == Array("ping".utf8))
        }
        await upstream.shutdown(gracePeriod: .seconds(1))
    }

    /// An upgrade the routes send to the writer (a `POST`, by default) reaches the writer's
    /// upstream through the writer's sidecar and is spliced end to end, across both sidecars.
    @Test func anUpgradeRoutedAsAWriteIsSplicedThroughTheWritersSidecar() async throws {
        let writerUpstream = try await Self.webSocketEcho()
        let localUpstream = try await HTTPServer.start(responder: HTTPResponder { _ in .text("local", status: 500) })
        try await withProxy(proxyConfiguration([("local", writerUpstream.localAddress)]), nodeID: "b") { proxyB in
            let writer = FixedWriter(.remote(address: try #require(proxyB.localAddress).description, id: "b"))
            try await withProxy(proxyConfiguration([("local", localUpstream.localAddress)]), nodeID: "a", writer: writer) { proxyA in
                let raw = try RawSocketClient(connectTo: try #require(proxyA.localAddress), timeoutSeconds: 60)
                try raw.send("POST /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: a2V5\r\n\r\n")
                let response = try await raw.readResponse()
                #expect(response.status == 101, "\(response)")
                #expect(response.header("Sec-WebSocket-Accept") == "accept-a2V5", "\(response)")
                try raw.send("through two sidecars")
                #expect(try await raw.read(count: 20) == Array("through two sidecars".utf8))
            }
        }
        await localUpstream.shutdown(gracePeriod: .seconds(1))
        await writerUpstream.shutdown(gracePeriod: .seconds(1))
    }

    /// The `Upgrade` of an HTTP/1.0 request is ignored (RFC 9110 §7.8), as any 1xx is never sent
    /// to an HTTP/1.0 client: the request is passed on without it and the upstream's ordinary
    /// answer relayed. It used to be passed on, and the client got `HTTP/1.0 101` and a splice.
    @Test func theUpgradeOfAnHTTP10RequestIsIgnored() async throws {
        let upstream = try await Self.webSocketEcho()
        try await withProxy(proxyConfiguration([("ws", upstream.localAddress)])) { proxy in
            let raw = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
            try raw.send("GET /ws HTTP/1.0\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: a2V5\r\n\r\n")
            let response = try await raw.readResponse()
            #expect(response.status == 426, "\(response)")
            #expect(response.bodyText == "not an upgrade", "\(response)")
        }
        await upstream.shutdown(gracePeriod: .seconds(1))
    }

    /// An upgrade request whose body is longer than the proxy reads whole is refused 413 by the
    /// proxy itself: the upstream is not asked and not blamed. It used to be a 502 naming the
    /// upstream as failed, counted in `disco_proxy_upstream_failures_total`.
    @Test func anUpgradeWithAnOversizedBodyIsRefusedWithoutBlamingTheUpstream() async throws {
        let upstream = try await Self.webSocketEcho()
        try await withProxy(proxyConfiguration([("ws", upstream.localAddress)])) { proxy in
            let raw = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
            let limit = 64 * 1024  // what the proxy reads whole
            let length = limit + 1
            try raw.send("POST /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: \(length)\r\n\r\n")
            let response = try await raw.readResponse()
            #expect(response.status == 413, "\(response)")
            #expect(response.bodyText.contains("at most \(limit) bytes"), "\(response.bodyText)")
            let metrics = proxy.metricsText(process: false)
            #expect(!metrics.contains("disco_proxy_upstream_failures_total{"), "\(metrics)")
        }
        await upstream.shutdown(gracePeriod: .seconds(1))
    }

    /// Reads until `count` bytes have arrived or the stream ends.
    static func read(_ count: Int, from connection: TCPConnection) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count, let piece = try await connection.read() { bytes += piece }
        return bytes
    }

    /// A TCP echo server for the pass-through tests.
    static func tcpEcho() async throws -> (TCPListener, Task<Void, Never>) {
        let listener = try await TCPListener.bind()
        let task = Task {
            await withDiscardingTaskGroup { group in
                while let connection = try? await listener.accept() {
                    group.addTask {
                        while let piece = try? await connection.read() { try? await connection.write(piece) }
                        connection.close()
                    }
                }
                group.cancelAll()
            }
        }
        return (listener, task)
    }

    @Test func tcpBytesPassBothWaysAndConnectionsBeyondTheLimitAreClosed() async throws {
        let (echo, echoTask) = try await Self.tcpEcho()
        var configuration = proxyConfiguration([])
        configuration.listenAddress = nil
        configuration.tcpProxies = [TCPProxySpec(listen: PeerAddress(host: "127.0.0.1", port: 0),
                                                 upstream: PeerAddress(host: "127.0.0.1", port: echo.localAddress.port), maxConnections: 1)]
        try await withProxy(configuration) { proxy in
            let listener = try #require(proxy.tcpListeners.first)
            let first = try await TCPConnection.connect(to: listener.localAddress)
            let payload = [UInt8](repeating: 0x42, count: 300_000)
            try await first.write(payload)
            var back: [UInt8] = []
            while back.count < payload.count, let piece = try await first.read() { back += piece }
            #expect(back == payload)
            #expect(listener.openConnections == 1)
            // The second connection is over max-conns: accepted by the kernel, closed by the proxy.
            let second = try await TCPConnection.connect(to: listener.localAddress)
            #expect(try await second.read() == nil)
            second.close()
            first.close()
            try await waitUntil("the first connection to be released") { listener.openConnections == 0 }
            let third = try await TCPConnection.connect(to: listener.localAddress)
            try await third.write([1, 2, 3])
            #expect(try await third.read() == [1, 2, 3])
            third.close()
        }
        echo.close()
        echoTask.cancel()
        await echoTask.value
    }

    /// Draining stops new TCP connections but lets a spliced one go on (bytes both ways) until
    /// its client ends it; the drain then returns.
    @Test func drainingLetsSplicedTCPConnectionsFinish() async throws {
        let (echo, echoTask) = try await Self.tcpEcho()
        var configuration = proxyConfiguration([])
        configuration.listenAddress = nil
        configuration.tcpProxies = [TCPProxySpec(listen: PeerAddress(host: "127.0.0.1", port: 0),
                                                 upstream: PeerAddress(host: "127.0.0.1", port: echo.localAddress.port))]
        try await withProxy(configuration) { proxy in
            let listener = try #require(proxy.tcpListeners.first)
            let connection = try await TCPConnection.connect(to: listener.localAddress)
            try await connection.write([1, 2, 3])
            #expect(try await Self.read(3, from: connection) == [1, 2, 3])
            let drained = Task { await proxy.drain(within: .seconds(60)) }
            try await waitUntil("the listener to refuse new connections") {
                guard let probe = try? await TCPConnection.connect(to: listener.localAddress) else { return true }
                probe.close()
                return false
            }
            for round in 0..<3 {
                let bytes = [UInt8](repeating: UInt8(round + 10), count: 1000)
                try await connection.write(bytes)
                #expect(try await Self.read(bytes.count, from: connection) == bytes, "round \(round)")
            }
            connection.close()
            await drained.value
            try await waitUntil("the connection to be released") { listener.openConnections == 0 }
        }
        echo.close()
        echoTask.cancel()
        await echoTask.value
    }
}

@Suite("Sidecar proxy: TLS termination")
struct TLSTerminationTests {
    @Test func theProxySpeaksHTTPSAndTellsTheUpstreamSo() async throws {
        let certificates = try await CertificateFixture.make(name: "sidecar-proxy")
        defer { certificates.remove() }
        let leaf = try await certificates.issue("proxy")
        let upstream = try await RecordingUpstream.start(name: "u")
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.tls = ProxyTLSFiles(certificate: leaf.certificate, key: leaf.key)
        try await withProxy(configuration) { proxy in
            var settings = HTTPClientConfiguration()
            settings.httpsTransport = try TLSTransportFactory.client(.client(trustRoots: .pem(.file(certificates.ca.certificate))))
            let client = HTTPClient(configuration: settings)
            let port = proxy.localAddress!.port
            let response = try await client.send(HTTPClientRequest(url: "https://127.0.0.1:\(port)/secure"))
            #expect(response.status == 200)
            #expect(upstream.requests.first?.headers["X-Forwarded-Proto"] == "https")
            // The next one finds an idle upstream connection and goes from its head in place.
            let again = try await client.send(HTTPClientRequest(url: "https://127.0.0.1:\(port)/secure?again"))
            #expect(again.status == 200)
            #expect(proxy.metrics.headViewRequests == 1)
            let second = try #require(upstream.requests.last)
            #expect(second.headers["X-Forwarded-Proto"] == "https")
            #expect(second.headers["Forwarded"]?.hasSuffix(";proto=https") == true, "\(second.headers)")
            // Plain HTTP to the TLS listener is refused and never proxied.
            let plain = try await HTTPClient().send(HTTPClientRequest(url: "http://127.0.0.1:\(port)/"), timeout: .seconds(30))
            #expect(plain.status == 400)
            #expect(upstream.requests.count == 2)
            await client.shutdown()
        }
        await upstream.stop()
    }
}
