import DiscoNet
import DiscoTestKit
import Testing

/// HTTP over a transport stacked on TCP (as TLS will be), one that takes a single byte per write:
/// the server and client must not care.
@Suite("Transport seam: HTTP over a layered transport")
struct TransportSeamTests {
    @Test func serverAnswersCorrectlyThroughOneByteWrites() async throws {
        let probe = TransportProbe()
        let configuration = HTTPServerConfiguration(transport: InstrumentedTransportFactory(probe: probe, maxWriteSize: 1))
        let streaming: HTTPHandler = { request in
            if request.path == "/stream" {
                return HTTPResponse(body: .stream { writer in
                    for word in ["alpha ", "beta ", "gamma"] { try await writer.write(word) }
                })
            }
            return .text("\(request.method) \(request.path) \(request.bodyText)")
        }
        try await withServer(configuration, handler: streaming) { server in
            let client = try connect(server)
            let requests = "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyzGET /stream HTTP/1.1\r\nHost: t\r\n\r\n"
            try client.send(requests)
            let first = try await client.readResponse()
            #expect(first.bodyText == "POST /a xyz")
            let second = try await client.readResponse()
            #expect(second.bodyText == "alpha beta gamma")
            #expect(probe.transportsMade == 1)
            // Every byte of both responses went through the layered transport one at a time.
            #expect(probe.bytesWritten > 100)
            #expect(probe.writeCalls == probe.bytesWritten)
            #expect(probe.bytesRead == requests.utf8.count)
        }
    }

    @Test func clientSendsAndReceivesThroughOneByteWrites() async throws {
        let probe = TransportProbe()
        let client = HTTPClient(configuration: HTTPClientConfiguration(transport: InstrumentedTransportFactory(probe: probe, maxWriteSize: 1)))
        try await withServer { server in
            let body = Array(String(repeating: "0123456789", count: 50).utf8)
            let response = try await client.send(HTTPClientRequest(method: "POST", url: "http://\(server.localAddress)/seam", body: body))
            #expect(response.bodyText == "POST /seam body=" + String(decoding: body, as: UTF8.self))
            #expect(probe.transportsMade == 1)
            #expect(probe.writeCalls == probe.bytesWritten)
            #expect(probe.bytesWritten > body.count)
            #expect(probe.bytesRead > body.count)
        }
    }
}
