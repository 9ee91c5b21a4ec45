import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

@Suite("HTTP client: streamed bodies, pool hand-back, abandoned bodies")
struct HTTPClientStreamingTests {
    /// Streams `pieces` pieces of 64 KiB, each filled with its index.
    private static func streaming(pieces: Int) -> HTTPResponder {
        HTTPResponder { _ in
            HTTPResponse(body: .stream { writer in
                for index in 0..<pieces {
                    try await writer.write([UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 64 * 1024))
                }
            })
        }
    }

    @Test func responseBodyIsReadOnDemandAndTheConnectionReturnsAfterTheEnd() async throws {
        let probe = TransportProbe()
        let client = HTTPClient(configuration: HTTPClientConfiguration(transport: InstrumentedTransportFactory(probe: probe)))
        try await withServer(responder: Self.streaming(pieces: 256)) { server in
            let url = "http://\(server.localAddress)/big"
            let response = try await client.execute(HTTPClientRequest(url: url))
            #expect(response.status == 200)
            var iterator = response.body.makeAsyncIterator()
            let first = try await iterator.next()
            #expect(first?.first == 0)
            // Nothing is read ahead of the consumer: at most the read that held the head and the
            // one that held the first piece, while the server has 16 MiB to send. Read interest
            // is dropped lazily, at the next readiness with no read waiting: wait for that turn.
            try await waitUntil("read interest to be dropped while nobody reads") { !probe.wantsRead }
            #expect(probe.bytesRead <= 2 * 64 * 1024)
            var total = first?.count ?? 0
            var sums = 0
            while let piece = try await iterator.next() {
                total += piece.count
                sums &+= Int(piece[0])
            }
            #expect(total == 256 * 64 * 1024)
            #expect(sums > 0)
            // Read to the end: the same connection serves the next request.
            let again = try await client.send(HTTPClientRequest(url: url))
            #expect(again.body.count == 256 * 64 * 1024)
            #expect(await client.connectionsOpened == 1)
        }
    }

    @Test func anAbandonedBodyClosesItsConnectionInsteadOfPoisoningThePool() async throws {
        let client = HTTPClient(configuration: HTTPClientConfiguration(maxConnectionsPerHost: 1))
        try await withServer(responder: Self.streaming(pieces: 128)) { server in
            let url = "http://\(server.localAddress)/big"
            do {
                let response = try await client.execute(HTTPClientRequest(url: url))
                var iterator = response.body.makeAsyncIterator()
                _ = try await iterator.next()
                // Dropped here with most of the body unread.
            }
            // With one connection per host, this waits for the slot the abandoned body held.
            let next = try await client.send(HTTPClientRequest(url: url))
            #expect(next.body.count == 128 * 64 * 1024)
            #expect(await client.connectionsOpened == 2)
            try await waitUntil("server sees the abandoned connection closed") { server.openConnections == 1 }

            let explicit = try await client.execute(HTTPClientRequest(url: url))
            explicit.body.close()
            do {
                for try await _ in explicit.body {}
                Issue.record("a closed body must not be readable")
            } catch let error as HTTPClientError {
                #expect(error.code == .connectionClosed)
            }
            _ = try await client.send(HTTPClientRequest(url: url))
            #expect(await client.connectionsOpened == 3)
        }
    }

    /// The same from a task on one of the client's loops, where the request is timed by a loop
    /// timer (a proxy forwarding a request). Cancelling that timer is lazy: it stays queued until
    /// its deadline, and it used to keep the response (through the task it would cancel), so
    /// a dropped body held its connection open, unread, for the whole timeout (here an hour).
    @Test func aBodyDroppedOnALoopClosesItsConnectionBeforeTheTimeout() async throws {
        let group = try EventLoopGroup(threads: 1, name: "client-loop-test")
        let client = HTTPClient(group: group)
        try await withServer(responder: Self.streaming(pieces: 128)) { server in
            let url = "http://\(server.localAddress)/big"
            let first = try await Task(executorPreference: group.next()) {
                let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(3600))
                var iterator = response.body.makeAsyncIterator()
                return try await iterator.next()?.count ?? 0
                // Dropped here with most of the body unread.
            }.value
            #expect(first > 0)
            try await waitUntil("server sees the dropped response's connection closed", timeout: .seconds(60)) { server.openConnections == 0 }
        }
        await client.shutdown()
        group.shutdown()
    }

    @Test func bodylessResponsesReturnTheirConnectionWithoutBeingRead() async throws {
        let client = HTTPClient()
        let responder = HTTPResponder { _ in HTTPResponse(status: 204) }
        try await withServer(responder: responder) { server in
            for _ in 0..<3 {
                let response = try await client.execute(HTTPClientRequest(url: "http://\(server.localAddress)/"))
                #expect(response.status == 204)
            }
            #expect(await client.connectionsOpened == 1)
        }
    }

    /// A small body that came with its head is taken at once and its connection goes back to
    /// the pool; a body still on its way is left whole for the stream to read.
    @Test func aBodyThatArrivedWithItsHeadIsTakenWithoutReading() async throws {
        let client = HTTPClient()
        let responder = HTTPResponder { request in
            if request.path == "/big" { return try await Self.streaming(pieces: 64).respond(to: request) }
            return .text("small answer")
        }
        try await withServer(responder: responder) { server in
            for _ in 0..<3 {
                let response = try await client.execute(HTTPClientRequest(url: "http://\(server.localAddress)/small"))
                let bytes = response.body.collectIfArrived(upTo: 1024)
                #expect(bytes.map { String(decoding: $0, as: UTF8.self) } == "small answer")
                // Taken: the body is at its end, so iterating it yields nothing more.
                for try await _ in response.body { Issue.record("a taken body must be at its end") }
            }
            #expect(await client.connectionsOpened == 1)
            let tooSmallALimit = try await client.execute(HTTPClientRequest(url: "http://\(server.localAddress)/small"))
            #expect(tooSmallALimit.body.collectIfArrived(upTo: 5) == nil)
            #expect(try await tooSmallALimit.body.collect(upTo: 1024) == Array("small answer".utf8))

            let big = try await client.execute(HTTPClientRequest(url: "http://\(server.localAddress)/big"))
            #expect(big.body.collectIfArrived(upTo: Int.max) == nil)
            #expect(try await big.body.collect(upTo: Int.max).count == 64 * 64 * 1024)
            #expect(await client.connectionsOpened == 1)
        }
    }

    @Test func streamedUploadsWithAndWithoutALength() async throws {
        let responder = HTTPResponder { request in
            var total = 0
            var pieces = 0
            for try await piece in request.body {
                total += piece.count
                pieces += 1
            }
            let framing = request.headers["Transfer-Encoding"] ?? "length \(request.headers["Content-Length"] ?? "?")"
            return .text("\(total) bytes, \(framing)")
        }
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxBodyBytes = 64 * 1024 * 1024
        let client = HTTPClient()
        try await withServer(configuration, responder: responder) { server in
            let url = "http://\(server.localAddress)/up"
            let piece = [UInt8](repeating: 7, count: 100_000)
            let chunked = HTTPClientRequest(url: url, bodyStream: .writer { writer in
                for _ in 0..<40 { try await writer.write(piece) }
            })
            let chunkedAnswer = try await client.send(chunked)
            #expect(chunkedAnswer.bodyText == "4000000 bytes, chunked")
            let sized = HTTPClientRequest(url: url, bodyStream: .writer(length: 300_000) { writer in
                for _ in 0..<3 { try await writer.write(piece) }
            })
            let sizedAnswer = try await client.send(sized)
            #expect(sizedAnswer.bodyText == "300000 bytes, length 300000")
            let short = HTTPClientRequest(url: url, bodyStream: .writer(length: 300_001) { writer in
                for _ in 0..<3 { try await writer.write(piece) }
            })
            do {
                _ = try await client.send(short)
                Issue.record("a body shorter than its declared length must fail")
            } catch {
                #expect("\(error)".contains("ended after 300000 of its declared 300001 bytes"))
            }
            let pieces = AsyncStream<[UInt8]> { continuation in
                for index in 0..<5 { continuation.yield(Array("piece\(index);".utf8)) }
                continuation.finish()
            }
            let sequence = HTTPClientRequest(url: url, bodyStream: .sequence(pieces))
            let sequenceAnswer = try await client.send(sequence)
            #expect(sequenceAnswer.bodyText == "35 bytes, chunked")
        }
    }

    @Test func aFailingProducerAbortsTheRequest() async throws {
        struct ProducerFailed: Error {}
        let responder = HTTPResponder { request in .text("\(try await request.body.collect(upTo: 1 << 20).count)") }
        try await withServer(responder: responder) { server in
            let request = HTTPClientRequest(url: "http://\(server.localAddress)/", bodyStream: .writer { writer in
                try await writer.write("some")
                throw ProducerFailed()
            })
            await #expect(throws: ProducerFailed.self) { _ = try await HTTPClient().send(request) }
        }
    }
}
