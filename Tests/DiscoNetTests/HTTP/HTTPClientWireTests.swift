import DiscoNet
import DiscoTestKit
import Testing

/// Client behaviour against hand-written servers that send exact bytes.
@Suite("HTTP client against scripted servers")
struct HTTPClientWireTests {
    /// Reads from `connection` until a blank line ends a request head.
    private func readRequestHead(_ connection: TCPConnection) async throws -> String? {
        var bytes: [UInt8] = []
        while !String(decoding: bytes, as: UTF8.self).contains("\r\n\r\n") {
            guard let more = try await connection.read() else { return nil }
            bytes += more
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func readsABodyDelimitedByClose() async throws {
        let listener = try await TCPListener.bind()
        let server = Task {
            let connection = try await listener.accept()
            _ = try await readRequestHead(connection)
            try await connection.write(Array("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nuntil the end".utf8))
            connection.close()
        }
        let response = try await HTTPClient().send(HTTPClientRequest(url: "http://\(listener.localAddress)/"))
        #expect(response.bodyText == "until the end")
        #expect(response.headers["x-a"] == "1")
        try await server.value
        listener.close()
    }

    @Test func staleKeepAliveConnectionIsRetriedForIdempotentRequests() async throws {
        let listener = try await TCPListener.bind()
        let server = Task {
            let first = try await listener.accept()
            _ = try await readRequestHead(first)
            try await first.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none".utf8))
            _ = try await readRequestHead(first)
            first.close()  // dies with the second request unanswered
            let second = try await listener.accept()
            _ = try await readRequestHead(second)
            try await second.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo".utf8))
            return second
        }
        let client = HTTPClient()
        let base = "http://\(listener.localAddress)"
        #expect(try await client.send(HTTPClientRequest(url: base + "/a")).bodyText == "one")
        #expect(try await client.send(HTTPClientRequest(url: base + "/b")).bodyText == "two")
        #expect(await client.connectionsOpened == 2)
        _ = try await server.value
        listener.close()
    }

    @Test func postOnAConnectionThatDiesIsNotRetried() async throws {
        let listener = try await TCPListener.bind()
        let server = Task {
            let first = try await listener.accept()
            _ = try await readRequestHead(first)
            try await first.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8))
            _ = try await readRequestHead(first)
            first.close()
        }
        let client = HTTPClient()
        let base = "http://\(listener.localAddress)"
        #expect(try await client.send(HTTPClientRequest(url: base + "/a")).status == 200)
        do {
            _ = try await client.send(HTTPClientRequest(method: "POST", url: base + "/b", body: [1]))
            Issue.record("a POST must not be replayed")
        } catch let error as HTTPClientError {
            #expect(error.code == .connectionClosed)
        }
        #expect(await client.connectionsOpened == 1)
        try await server.value
        listener.close()
    }

    @Test func malformedResponseIsReportedWithTheHost() async throws {
        let listener = try await TCPListener.bind()
        let server = Task {
            let connection = try await listener.accept()
            _ = try await readRequestHead(connection)
            try await connection.write(Array("HTTP/1.1 2x0 Nope\r\n\r\n".utf8))
            connection.close()
        }
        do {
            _ = try await HTTPClient().send(HTTPClientRequest(url: "http://\(listener.localAddress)/"))
            Issue.record("expected a malformed response error")
        } catch let error as HTTPClientError {
            #expect(error.code == .malformedResponse)
            #expect(error.host == "\(listener.localAddress)")
            #expect(error.detail.contains("status code"))
        }
        try await server.value
        listener.close()
    }
}

@Suite("Connect timeouts")
struct ConnectTimeoutTests {
    @Test func connectTimesOutWhenTheAcceptQueueIsFull() async throws {
        // A listener that never accepts, with the smallest backlog: once its queue is full the
        // kernel drops further SYNs, so a connect can only end by our timeout.
        let listener = try await TCPListener.bind(backlog: 0)
        var held: [TCPConnection] = []
        var timeout: NetworkError?
        var consecutiveTimeouts = 0
        // Three timeouts in a row: the queue is full, not merely a slow machine.
        for _ in 0..<64 where consecutiveTimeouts < 3 {
            do {
                held.append(try await TCPConnection.connect(to: listener.localAddress, timeout: .milliseconds(200)))
                consecutiveTimeouts = 0
            } catch let error as NetworkError {
                timeout = error
                consecutiveTimeouts += 1
            }
        }
        #expect(timeout?.code == .connectTimeout)
        #expect(timeout?.description.contains("\(listener.localAddress.port)") == true)

        let client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .milliseconds(200)))
        do {
            _ = try await client.send(HTTPClientRequest(url: "http://\(listener.localAddress)/"))
            Issue.record("expected a connect timeout")
        } catch let error as HTTPClientError {
            #expect(error.code == .connectTimeout)
        }
        for connection in held { connection.close() }
        listener.close()
    }
}
