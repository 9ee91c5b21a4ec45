import DiscoNet
import DiscoTestKit
import Testing

@Suite("HTTP: large bodies in both directions")
struct HTTPLargeTransferTests {
    @Test func largeUploadAndDownloadThroughTheClient() async throws {
        // The megabytes are made and compared off the cooperative pool (slow in a debug build).
        let sizeHandler: HTTPHandler = { request in
            // Answer with a body twice the upload, forcing partial writes on the server side.
            let body = request.body
            return HTTPResponse(bytes: await CPUBoundWork.run { body + body.reversed() })
        }
        try await withServer(handler: sizeHandler) { server in
            let upload = await CPUBoundWork.run { (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) } }
            let client = HTTPClient()
            let response = try await client.send(HTTPClientRequest(method: "POST", url: "http://\(server.localAddress)/big", body: upload))
            #expect(response.body.count == upload.count * 2)
            let body = response.body
            let (head, tail) = await CPUBoundWork.run {
                (Array(body.prefix(upload.count)) == upload, Array(body.suffix(upload.count)) == upload.reversed())
            }
            #expect(head, "the first half is the upload")
            #expect(tail, "the second half is the upload reversed")
        }
    }

    @Test func largeStreamedResponseWithBackPressure() async throws {
        let piece = [UInt8](repeating: 0x61, count: 64 * 1024)
        let streaming: HTTPHandler = { _ in
            HTTPResponse(body: .stream { writer in
                for _ in 0..<64 { try await writer.write(piece) }
            })
        }
        try await withServer(handler: streaming) { server in
            let response = try await HTTPClient().send(HTTPClientRequest(url: "http://\(server.localAddress)/s"))
            #expect(response.body.count == 64 * piece.count)
        }
    }

    @Test func manyConcurrentConnections() async throws {
        try await withServer { server in
            try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        let client = try RawSocketClient(connectTo: server.localAddress)
                        try client.send("GET /\(index) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                        return try await client.readResponse().bodyText
                    }
                }
                var bodies = Set<String>()
                for try await body in group { bodies.insert(body) }
                #expect(bodies == Set((0..<100).map { "GET /\($0)" }))
            }
        }
    }
}
