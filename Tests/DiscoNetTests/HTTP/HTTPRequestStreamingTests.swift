import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

@Suite("HTTP server: streamed request bodies, back-pressure, 100-continue")
struct HTTPRequestStreamingTests {
    @Test func handlerStartsBeforeTheBodyHasArrived() async throws {
        let started = Gate()
        let responder = HTTPResponder { request in
            await started.wait()
            var received: [UInt8] = []
            for try await piece in request.body {
                #expect(!piece.isEmpty)
                received += piece
            }
            let trailer = await request.body.trailers["X-Sum"] ?? "-"
            return .text("got \(String(decoding: received, as: UTF8.self)) trailer=\(trailer)")
        }
        try await withServer(responder: responder) { server in
            let client = try connect(server)
            try client.send("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            // Only the head has been sent: the handler must already be running.
            try await waitUntil("handler called with the head alone") { started.arrivals == 1 }
            started.open()
            try client.send("5\r\nhello\r\n")
            try client.send("6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.bodyText == "got hello world trailer=11")
        }
    }

    @Test func slowHandlerMakesTheServerStopReading() async throws {
        let probe = TransportProbe()
        var configuration = HTTPServerConfiguration(transport: InstrumentedTransportFactory(probe: probe))
        configuration.limits.maxBodyBytes = 64 * 1024 * 1024
        configuration.requestBodyBuffer = 64 * 1024
        let gate = Gate()
        let responder = HTTPResponder { request in
            await gate.wait()
            var total = 0
            for try await piece in request.body { total += piece.count }
            return .text("\(total)")
        }
        let size = 32 * 1024 * 1024
        try await withServer(configuration, responder: responder) { server in
            let client = try connect(server)
            try client.send("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: \(size)\r\n\r\n")
            let sent = Atomic<Int>(0)
            let sender = Task {
                let piece = [UInt8](repeating: 0x5A, count: 64 * 1024)
                for _ in 0..<(size / piece.count) {
                    try await client.sendAsync(piece)
                    sent.add(piece.count, ordering: .relaxed)
                }
            }
            // The handler has read nothing: once the read-ahead is full the server must stop
            // asking for input instead of buffering the rest of the 32 MiB.
            try await waitUntil("the server pauses reading") { probe.readPauses >= 1 && !probe.wantsRead }
            let readWhilePaused = probe.bytesRead
            #expect(readWhilePaused <= configuration.requestBodyBuffer + 64 * 1024 + 4096,
                    "the server read \(readWhilePaused) bytes for a handler that took none")
            #expect(sent.load(ordering: .relaxed) < size, "the whole body went out although nobody read it")
            gate.open()
            try await sender.value
            let response = try await client.readResponse()
            #expect(response.bodyText == "\(size)")
        }
    }

    @Test func continueIsSentOnlyWhenTheHandlerReads() async throws {
        let gate = Gate()
        let responder = HTTPResponder { request in
            await gate.wait()
            let body = try await request.body.collect(upTo: 100)
            return .text("read \(String(decoding: body, as: UTF8.self))")
        }
        try await withServer(responder: responder) { server in
            let client = try connect(server)
            try client.send("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            try await waitUntil("handler running") { gate.arrivals == 1 }
            #expect(!client.hasBytesWaiting(), "100 Continue went out before the handler read the body")
            gate.open()
            #expect(try await client.readResponse().status == 100)
            try client.send("data")
            let final = try await client.readResponse()
            #expect(final.status == 200)
            #expect(final.bodyText == "read data")
        }
    }

    @Test("a streamed refusal of a body never invited says that the connection closes after it")
    func streamedRefusalWithoutReadingAnnouncesTheClose() async throws {
        let responder = HTTPResponder { _ in HTTPResponse(status: 403, body: .stream { writer in try await writer.write("denied") }) }
        try await withServer(responder: responder) { server in
            let (response, client) = try await exchange(server,
                "PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            #expect(response.status == 403)
            #expect(response.bodyText == "denied")
            #expect(response.header("Connection") == "close", "the connection closes without the response saying so")
            #expect(try await client.isClosedByPeer())
        }
    }

    @Test func refusalWithoutReadingNeverInvitesTheBody() async throws {
        let responder = HTTPResponder { _ in .text("no key", status: 401) }
        try await withServer(responder: responder) { server in
            let (response, client) = try await exchange(server,
                "PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            #expect(response.status == 401)
            #expect(response.header("Connection") == "close")
            #expect(try await client.isClosedByPeer())
        }
    }

    @Test func continuePolicyImmediatelyAnswersBeforeTheHandlerReads() async throws {
        let gate = Gate()
        let responder = HTTPResponder { request in
            await gate.wait()
            return .text("read \(try await request.body.collect(upTo: 100).count)")
        }
        let configuration = HTTPServerConfiguration(continuePolicy: .immediately)
        try await withServer(configuration, responder: responder) { server in
            let client = try connect(server)
            try client.send("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            // The handler is still held at the gate, before reading: the 100 came from the policy.
            #expect(try await client.readResponse().status == 100)
            try client.send("data")
            gate.open()
            #expect(try await client.readResponse().bodyText == "read 4")
        }
    }

    @Test func anUnreadBodyAlreadyReceivedIsSkippedAndTheConnectionKept() async throws {
        let responder = HTTPResponder { request in .text("ignored body of \(request.path)") }
        try await withServer(responder: responder) { server in
            let client = try connect(server)
            try client.send("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
            let first = try await client.readResponse()
            #expect(first.bodyText == "ignored body of /a")
            #expect(first.header("Connection") == nil)
            #expect(try await client.readResponse().bodyText == "ignored body of /b")
            #expect(server.acceptedConnections == 1)
        }
    }

    @Test func anUnreadBodyStillOnTheWayClosesTheConnection() async throws {
        let responder = HTTPResponder { _ in .text("early answer") }
        try await withServer(responder: responder) { server in
            let client = try connect(server)
            try client.send("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nonly part")
            let response = try await client.readResponse()
            #expect(response.bodyText == "early answer")
            #expect(response.header("Connection") == "close")
            #expect(try await client.isClosedByPeer())
        }
    }

    @Test func collectingMoreThanTheLimitIs413NamingIt() async throws {
        let responder = HTTPResponder.collecting(upTo: 10) { request in .text("\(request.body.count)") }
        try await withServer(responder: responder) { server in
            let (declared, _) = try await exchange(server, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n01234567890")
            #expect(declared.status == 413)
            #expect(declared.bodyText.contains("limit of 10 bytes"))
            let (chunked, _) = try await exchange(server,
                "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n")
            #expect(chunked.status == 413)
            let (fits, _) = try await exchange(server, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
            #expect(fits.bodyText == "10")
        }
    }

    @Test func aStalledBodyGets408AndTheHandlerSeesTheError() async throws {
        let failure = Mutex<String?>(nil)
        let responder = HTTPResponder { request in
            do {
                _ = try await request.body.collect(upTo: 1000)
            } catch {
                failure.withLock { $0 = "\(error)" }
                throw error
            }
            return .text("unexpected")
        }
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = .milliseconds(200)
        try await withServer(configuration, responder: responder) { server in
            let (response, client) = try await exchange(server, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nsome")
            #expect(response.status == 408)
            #expect(response.bodyText.contains("request body stalled"))
            #expect(try await client.isClosedByPeer())
            try await waitUntil("handler saw the failure") { failure.withLock { $0 } != nil }
            #expect(failure.withLock { $0 }?.contains("408") == true)
        }
    }
}
