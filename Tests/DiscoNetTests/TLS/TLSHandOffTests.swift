import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing

/// Leaving HTTP over TLS: an HTTPS proxy (TLS terminated by our server) hands a 101 upgrade to a
/// plain upstream and splices the two; our client upgrades over https. Bytes cross both ways and
/// a half-close (close_notify, then FIN) travels through.
@Suite("TLS: hand-off after 101 and splice")
struct TLSHandOffTests {
    /// Upper-cases what it reads; on the client's half-close it says "BYE" and closes.
    private static let shouting = HTTPResponder { request in
        .switchingProtocols(to: "shout") { upgraded in
            let connection = upgraded.connection
            do {
                var pending = upgraded.initialBytes
                while true {
                    if !pending.isEmpty { try await connection.write(Array(String(decoding: pending, as: UTF8.self).uppercased().utf8)) }
                    guard let more = try await connection.read() else { break }
                    pending = more
                }
                try await connection.write(Array("BYE".utf8))
            } catch {}
        }
    }

    @Test func anUpgradeThroughAnHTTPSProxySplicesBothWaysWithHalfClose() async throws {
        let certificates = try await TLSTestCertificates.get()
        try await withServer(responder: Self.shouting) { upstream in
            let plain = HTTPClient()
            let proxy = HTTPResponder { request in
                let result = try await plain.upgrade(HTTPClientRequest(url: "http://\(upstream.localAddress)\(request.target)",
                                                                        headers: ["Connection": "Upgrade", "Upgrade": "shout"]))
                guard let upstreamSide = result.upgraded else { return .text("no upgrade", status: 502) }
                return HTTPResponse(status: 101, headers: ["Connection": "Upgrade", "Upgrade": "shout"], body: .handOff { downstream in
                    await downstream.splice(with: upstreamSide)
                })
            }
            var configuration = HTTPServerConfiguration()
            configuration.transport = try TLSTransportFactory.server(certificates.serverTLS())
            try await withServer(configuration, responder: proxy) { server in
                let (client, _) = try tlsClient(certificates.clientTLS())
                let result = try await client.upgrade(HTTPClientRequest(url: httpsURL(server, "/chat"),
                                                                        headers: ["Connection": "Upgrade", "Upgrade": "shout"]))
                #expect(result.response.status == 101)
                let connection = try #require(result.upgraded).connection
                try await connection.write(Array("hello over tls".utf8))
                #expect(String(decoding: try await read(14, from: connection), as: UTF8.self) == "HELLO OVER TLS")
                connection.shutdownWrite()
                #expect(String(decoding: try await readToEnd(connection), as: UTF8.self) == "BYE")
                try await waitUntil("the proxy drops the spliced connection") { server.openConnections == 0 }
                await client.shutdown()
            }
            await plain.shutdown()
        }
    }
}
