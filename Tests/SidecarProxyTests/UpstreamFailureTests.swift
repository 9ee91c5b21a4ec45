import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

/// What the client gets when the upstream is not there, too slow, or talks nonsense.
@Suite("Sidecar proxy: upstream failures become 502 and 504")
struct UpstreamFailureTests {
    @Test func aRefusedConnectionIs502NamingTheUpstream() async throws {
        let port = try FreePort.loopback()
        let nothing = SocketAddress(numericHost: "127.0.0.1", port: port)!
        try await withProxy(proxyConfiguration([("service", nothing)])) { proxy in
            let response = try await HTTPClient().send(HTTPClientRequest(url: proxy.url + "/x"))
            #expect(response.status == 502)
            let body = try json(response)
            #expect(body["upstream"]?.stringValue == "service")
            #expect(body["upstream_addr"]?.stringValue == "127.0.0.1:\(port)")
            #expect(body["error"]?.stringValue?.contains("refused the connection") == true, "\(response.bodyText)")
            #expect(proxy.metrics.requests(status: 502) == 1)
        }
    }

    /// A write sent on to the writer's sidecar that fails is named as such. Before, the error
    /// said `upstream "local" (writer's address)`, as if this sidecar's own upstream had failed.
    @Test func aFailedWriteToTheWriterNamesTheWritersSidecar() async throws {
        let port = try FreePort.loopback()
        let local = try await RecordingUpstream.start(name: "local")
        let writer = FixedWriter(.remote(address: "127.0.0.1:\(port)", id: "n9"), peers: nil)
        try await withProxy(proxyConfiguration([("local", local.address)]), nodeID: "n1", writer: writer) { proxy in
            let response = try await HTTPClient().send(HTTPClientRequest(method: "POST", url: proxy.url + "/x", body: Array("w".utf8)))
            #expect(response.status == 502)
            let body = try json(response)
            #expect(body["writer"]?.stringValue == "n9", "\(response.bodyText)")
            #expect(body["upstream_addr"]?.stringValue == "127.0.0.1:\(port)")
            #expect(body["error"]?.stringValue?.hasPrefix("the sidecar of writer \"n9\" (127.0.0.1:\(port))") == true, "\(response.bodyText)")
        }
    }

    @Test func anUpstreamThatNeverAnswersIs504AndOtherRoutesKeepWorking() async throws {
        let silent = try await ScriptedTCPUpstream(script: nil)
        let good = try await RecordingUpstream.start(name: "good")
        var configuration = proxyConfiguration([("slow", silent.address), ("good", good.address)], routes: [
            ProxyRoute(name: "slow", methods: nil, pathPrefix: "/slow", target: RouteTarget(upstream: "slow")),
            ProxyRoute(name: "good", methods: nil, pathPrefix: "/", target: RouteTarget(upstream: "good")),
        ])
        // Long enough that the fast route answers well within it even on a loaded machine.
        configuration.readTimeout = .seconds(5)
        try await withProxy(configuration) { proxy in
            let client = HTTPClient()
            async let slow = client.send(HTTPClientRequest(url: proxy.url + "/slow/1"))
            // While the slow upstream holds its request, another route answers.
            let fast = try await client.send(HTTPClientRequest(url: proxy.url + "/fast"))
            #expect(fast.status == 200)
            let answer = try await slow
            #expect(answer.status == 504)
            #expect(try json(answer)["error"]?.stringValue?.contains("upstream \"slow\"") == true, "\(answer.bodyText)")
            await client.shutdown()
        }
        await silent.stop()
        await good.stop()
    }

    /// The second request goes out on the kept-alive connection the first one left in the pool
    /// (the proxy's fast path, timed by the connection's own deadline): an upstream that then
    /// never answers is still a 504 naming it, and that connection is not used again.
    @Test func anUpstreamThatStopsAnsweringOnAKeptAliveConnectionIs504() async throws {
        let once = try await ScriptedTCPUpstream(script: Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8), closeAfter: false)
        var configuration = proxyConfiguration([("once", once.address)])
        // Long enough for the first answer on a loaded machine (3 s once was not); the second
        // request waits it out.
        configuration.readTimeout = .seconds(8)
        try await withProxy(configuration) { proxy in
            let client = HTTPClient()
            let first = try await client.send(HTTPClientRequest(url: proxy.url + "/1"))
            #expect(first.status == 200)
            #expect(first.bodyText == "ok")
            let second = try await client.send(HTTPClientRequest(url: proxy.url + "/2"), timeout: .seconds(60))
            #expect(second.status == 504, "\(second.bodyText)")
            #expect(try json(second)["error"]?.stringValue?.contains("upstream \"once\"") == true, "\(second.bodyText)")
            #expect(once.connections == 1, "the second request must have reused the first one's connection")
            // The connection that timed out is gone; the next request opens a new one.
            let third = try await client.send(HTTPClientRequest(url: proxy.url + "/3"), timeout: .seconds(60))
            #expect(third.status == 200)
            #expect(once.connections == 2)
            await client.shutdown()
        }
        await once.stop()
    }

    @Test func aMalformedResponseHeadIs502() async throws {
        let garbage = try await ScriptedTCPUpstream(script: Array("HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok".utf8))
        try await withProxy(proxyConfiguration([("bad", garbage.address)])) { proxy in
            let response = try await HTTPClient().send(HTTPClientRequest(url: proxy.url + "/"))
            #expect(response.status == 502)
            #expect(try json(response)["error"]?.stringValue?.contains("malformed") == true, "\(response.bodyText)")
        }
        await garbage.stop()
    }

    @Test func aShortFixedLengthBodyIs502NotATruncatedSuccess() async throws {
        let short = try await ScriptedTCPUpstream(script: Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this".utf8))
        try await withProxy(proxyConfiguration([("short", short.address)])) { proxy in
            let response = try await HTTPClient().send(HTTPClientRequest(url: proxy.url + "/"))
            #expect(response.status == 502)
        }
        await short.stop()
    }

    /// A streamed (chunked) response that breaks half-way: the client has already got a 200 head,
    /// so the proxy must end the connection without the final chunk; a client then knows the
    /// response is incomplete.
    @Test func aBodyThatBreaksHalfWayIsNeverPresentedAsComplete() async throws {
        let broken = try await ScriptedTCPUpstream(script: Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n".utf8),
                                                   later: Array("ZZ\r\n".utf8))
        try await withProxy(proxyConfiguration([("broken", broken.address)])) { proxy in
            let raw = try RawSocketClient(connectTo: proxy.localAddress!)
            try raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            var bytes: [UInt8] = []
            while !String(decoding: bytes, as: UTF8.self).contains("hello") { bytes += try await raw.read(count: 1) }
            broken.release()
            bytes += try await raw.readUntilClose()
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200"), "\(text)")
            #expect(text.contains("hello"))
            #expect(!text.hasSuffix("0\r\n\r\n"), "the chunked body was terminated as if complete: \(text.debugDescription)")
        }
        await broken.stop()
    }

    /// The same break for an HTTP/1.0 client, which has no chunked framing: a streamed body
    /// (larger than the relay reads whole) is delimited by the connection's end, so an orderly
    /// close would present the first bytes as the whole response. The client must see the
    /// truncation: a declared length the body falls short of, or a reset instead of a close.
    @Test func aLargeBodyCutShortIsNeverPresentedAsCompleteToAnHTTP10Client() async throws {
        let short = try await ScriptedTCPUpstream(script: Array("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nonly these bytes".utf8))
        try await withProxy(proxyConfiguration([("short", short.address)])) { proxy in
            let raw = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 30)
            try raw.send("GET /big HTTP/1.0\r\nHost: x\r\n\r\n")
            let bytes = try await raw.readUntilClose()
            let text = String(decoding: bytes, as: UTF8.self)
            let end = (0..<max(0, bytes.count - 3)).first { Array(bytes[$0..<($0 + 4)]) == Array("\r\n\r\n".utf8) }
            let head = String(decoding: bytes[..<(end ?? bytes.count)], as: UTF8.self).lowercased()
            let bodyCount = end.map { bytes.count - $0 - 4 } ?? 0
            let declared = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).filter { $0 != " " }) }
            let failed = text.hasPrefix("HTTP/1.0 502") || text.hasPrefix("HTTP/1.1 502")
            let truncationShows = failed || raw.endedWithReset || (declared.map { $0 > bodyCount } ?? false)
            #expect(truncationShows, "a body cut short ended like a complete one: \(text.debugDescription)")
        }
        await short.stop()
    }

    /// An upstream that sends its head and part of the body, then nothing: the wait for the rest
    /// is bounded by the read timeout too. A fixed-length body not yet relayed becomes a 504; a
    /// streamed one already under way ends the client's connection unterminated.
    @Test func aBodyThatStallsIsBoundedByTheReadTimeout() async throws {
        let fixed = try await ScriptedTCPUpstream(script: Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8), closeAfter: false)
        let streamed = try await ScriptedTCPUpstream(script: Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n".utf8),
                                                     closeAfter: false)
        var configuration = proxyConfiguration([("fixed", fixed.address), ("streamed", streamed.address)], routes: [
            ProxyRoute(name: "fixed", methods: nil, pathPrefix: "/fixed", target: RouteTarget(upstream: "fixed")),
            ProxyRoute(name: "streamed", methods: nil, pathPrefix: "/", target: RouteTarget(upstream: "streamed")),
        ])
        // Long enough that the scripted upstream's head arrives in time on a loaded machine (the
        // head late would be a 504 for another reason), short enough to keep the test quick.
        configuration.readTimeout = .seconds(2)
        try await withProxy(configuration) { proxy in
            let answer = try await HTTPClient().send(HTTPClientRequest(url: proxy.url + "/fixed"), timeout: .seconds(30))
            #expect(answer.status == 504, "\(answer.bodyText)")
            #expect(try json(answer)["error"]?.stringValue?.contains("did not answer in time") == true, "\(answer.bodyText)")
            // A streamed body already under way ends the client's connection unterminated.
            let raw = try RawSocketClient(connectTo: proxy.localAddress!, timeoutSeconds: 30)
            // `Connection: close`: whatever the answer, the proxy ends the connection after it.
            try raw.send("GET /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let text = String(decoding: try await raw.readUntilClose(), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200") && text.contains("abc"), "\(text)")
            #expect(!text.hasSuffix("0\r\n\r\n"), "a stalled body was terminated as if complete")
        }
        await fixed.stop()
        await streamed.stop()
    }
}
