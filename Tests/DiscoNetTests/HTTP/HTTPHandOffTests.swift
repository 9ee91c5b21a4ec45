import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

/// Reads from `connection` until `count` bytes have arrived (or the stream ends).
func read(_ count: Int, from connection: TCPConnection, after initial: [UInt8] = []) async throws -> [UInt8] {
    var bytes = initial
    while bytes.count < count, let more = try await connection.read() { bytes += more }
    return bytes
}

/// Reads from `connection` until the peer finishes sending.
func readToEnd(_ connection: TCPConnection, after initial: [UInt8] = []) async throws -> [UInt8] {
    var bytes = initial
    while let more = try await connection.read() { bytes += more }
    return bytes
}

@Suite("HTTP hand-off: 101 and CONNECT, proxied WebSocket-shaped exchange")
struct HTTPHandOffTests {
    /// An upstream that accepts `Upgrade: shout` and then answers each byte upper-cased, and on
    /// the client's half-close sends "BYE" and closes.
    private static let shoutingUpstream = HTTPResponder { request in
        guard request.headers.hasToken("upgrade", in: "Connection"), request.headers["Upgrade"] == "shout" else {
            return .text("upgrade to shout required", status: 426)
        }
        return .switchingProtocols(to: "shout", headers: ["X-Upstream": "yes"]) { upgraded in
            let connection = upgraded.connection
            do {
                var pending = upgraded.initialBytes
                while true {
                    if !pending.isEmpty {
                        try await connection.write(Array(String(decoding: pending, as: UTF8.self).uppercased().utf8))
                    }
                    guard let more = try await connection.read() else { break }
                    pending = more
                }
                try await connection.write(Array("BYE".utf8))
            } catch {}
        }
    }

    /// A proxy that passes `Upgrade` requests to `upstream` and splices the two connections.
    private static func proxy(to upstream: SocketAddress, client: HTTPClient) -> HTTPResponder {
        HTTPResponder { request in
            var headers = request.headers
            headers.remove("Host")
            let result = try await client.upgrade(HTTPClientRequest(method: request.method, url: "http://\(upstream)\(request.target)",
                                                                     headers: headers))
            guard let upstreamSide = result.upgraded else {
                return HTTPResponse(status: result.response.status, headers: result.response.headers, bytes: result.response.body)
            }
            var answer = result.response.headers
            answer.remove("Date")
            return HTTPResponse(status: 101, headers: answer, body: .handOff { downstreamSide in
                await downstreamSide.splice(with: upstreamSide)
            })
        }
    }

    @Test func aWebSocketShapedExchangeThroughAProxy() async throws {
        try await withServer(responder: Self.shoutingUpstream) { upstream in
            let client = HTTPClient()
            try await withServer(responder: Self.proxy(to: upstream.localAddress, client: client)) { proxy in
                let downstream = try connect(proxy)
                // The first bytes of the new protocol ride in the same write as the request.
                try downstream.send("GET /chat HTTP/1.1\r\nHost: p\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\nhello ")
                let switched = try await downstream.readResponse()
                #expect(switched.status == 101)
                #expect(switched.header("Upgrade") == "shout")
                #expect(switched.header("X-Upstream") == "yes")
                #expect(switched.header("Content-Length") == nil)
                #expect(String(decoding: try await downstream.read(count: 6), as: UTF8.self) == "HELLO ")
                try downstream.send("world")
                #expect(String(decoding: try await downstream.read(count: 5), as: UTF8.self) == "WORLD")
                // Half-close travels through both splices; the upstream's last words come back.
                downstream.shutdownWrite()
                #expect(String(decoding: try await downstream.readUntilClose(), as: UTF8.self) == "BYE")
                try await waitUntil("proxy drops the spliced connection") { proxy.openConnections == 0 }
                try await waitUntil("upstream drops the upgraded connection") { upstream.openConnections == 0 }
            }
        }
    }

    @Test func aRefusedUpgradeIsAnOrdinaryResponse() async throws {
        try await withServer(responder: Self.shoutingUpstream) { upstream in
            let result = try await HTTPClient().upgrade(HTTPClientRequest(url: "http://\(upstream.localAddress)/chat"))
            #expect(result.upgraded == nil)
            #expect(result.response.status == 426)
            #expect(result.response.bodyText == "upgrade to shout required")
        }
    }

    /// ``HTTPClient/executeUpgrade(_:timeout:)`` returns an answer that does not switch at its
    /// head, with the body read as it arrives: a body that pauses is not waited out.
    @Test func anUpgradeAnsweredWithoutSwitchingStreamsItsBody() async throws {
        let released = Atomic<Bool>(false)
        let responder = HTTPResponder { _ in
            HTTPResponse(status: 200, headers: ["Content-Type": "text/plain"], body: .stream { writer in
                try await writer.write(Array("first".utf8))
                try await waitUntil("the test to read the first piece") { released.load(ordering: .relaxed) }
                try await writer.write(Array("second".utf8))
            })
        }
        try await withServer(responder: responder) { upstream in
            let client = HTTPClient()
            let outcome = try await client.executeUpgrade(HTTPClientRequest(url: "http://\(upstream.localAddress)/",
                                                                            headers: ["Connection": "Upgrade", "Upgrade": "h2c"]))
            guard case .answered(let response) = outcome else {
                Issue.record("the server did not switch, but the outcome is \(outcome)")
                return
            }
            #expect(response.status == 200)
            #expect(response.headers["Content-Type"] == "text/plain")
            var iterator = response.body.makeAsyncIterator()
            var bytes: [UInt8] = []
            while !String(decoding: bytes, as: UTF8.self).contains("first"), let piece = try await iterator.next() { bytes += piece }
            #expect(String(decoding: bytes, as: UTF8.self) == "first")
            released.store(true, ordering: .relaxed)
            while let piece = try await iterator.next() { bytes += piece }
            #expect(String(decoding: bytes, as: UTF8.self) == "firstsecond")
            await client.shutdown()
        }
    }

    @Test func connectOpensATunnelToAPlainTCPServer() async throws {
        let backend = try await TCPListener.bind()
        let backendTask = Task {
            let connection = try await backend.accept()
            let request = try await readToEnd(connection)
            try await connection.write(Array("got \(request.count) bytes".utf8))
            connection.close()
        }
        let responder = HTTPResponder { request in
            guard request.method == "CONNECT" else { return .text("CONNECT only", status: 405) }
            let parts = request.target.split(separator: ":")
            guard parts.count == 2, let port = UInt16(parts[1]) else { return .text("bad target", status: 400) }
            let upstream = try await TCPConnection.connect(host: String(parts[0]), port: port)
            return HTTPResponse(status: 200, body: .handOff { tunnel in
                await tunnel.connection.splice(with: upstream, pendingForOther: tunnel.initialBytes)
            })
        }
        try await withServer(responder: responder) { proxy in
            let client = try connect(proxy)
            try client.send("CONNECT 127.0.0.1:\(backend.localAddress.port) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let established = try await client.readResponse(headRequest: true)  // a 2xx to CONNECT has no body
            #expect(established.status == 200)
            #expect(established.header("Content-Length") == nil)
            #expect(established.header("Transfer-Encoding") == nil)
            try client.send([UInt8](repeating: 1, count: 100_000))
            client.shutdownWrite()
            #expect(String(decoding: try await client.readUntilClose(), as: UTF8.self) == "got 100000 bytes")
        }
        try await backendTask.value
        backend.close()
    }

    @Test func aHandOffWithAWrongStatusIsRefusedWith500() async throws {
        let responder = HTTPResponder { _ in
            HTTPResponse(status: 200, body: .handOff { _ in Issue.record("hand-off must not run for a GET answered 200") })
        }
        try await withServer(responder: responder) { server in
            try await expectRejected(server, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", status: 500, reason: "needs status 101")
        }
    }

    @Test func aHandOffBeforeTheBodyWasReadIsRefused() async throws {
        let responder = HTTPResponder { _ in
            .switchingProtocols(to: "x") { _ in Issue.record("hand-off must not run with an unread body") }
        }
        try await withServer(responder: responder) { server in
            let client = try connect(server)
            try client.send("POST / HTTP/1.1\r\nHost: t\r\nUpgrade: x\r\nConnection: Upgrade\r\nContent-Length: 10\r\n\r\n01234")
            let response = try await client.readResponse()
            #expect(response.status == 500)
            #expect(response.bodyText.contains("before the request body has been read"))
        }
    }

    @Test func shutdownClosesHandedOffConnectionsAfterTheGracePeriod() async throws {
        let gate = Gate()
        let responder = HTTPResponder { _ in
            .switchingProtocols(to: "idle") { upgraded in
                await gate.wait()
                // The connection stays open until shutdown closes it under us.
                _ = try? await upgraded.connection.read()
            }
        }
        let server = try await HTTPServer.start(responder: responder)
        let client = try connect(server)
        try client.send("GET / HTTP/1.1\r\nHost: t\r\nUpgrade: idle\r\nConnection: Upgrade\r\n\r\n")
        #expect(try await client.readResponse().status == 101)
        try await waitUntil("take-over running") { gate.arrivals == 1 }
        #expect(server.openConnections == 1)
        gate.open()
        await server.shutdown(gracePeriod: .milliseconds(100))
        #expect(server.openConnections == 0)
        #expect(try await client.isClosedByPeer())
    }
}
