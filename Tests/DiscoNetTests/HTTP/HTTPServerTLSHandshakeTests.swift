import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// A TLS client on a plain HTTP port (an `https://` URL for an `http://` server): its hello is
/// answered 400 at once and the connection closed, whatever bytes the hello holds. Before, a hello
/// was refused for a "bare CR" or "bare LF" somewhere in its random bytes, or, holding neither
/// (about one in fifty), waited on until the header timeout. The servers here wait an hour for a
/// request head, so a hello that is waited on hangs the test into its time limit (and the clients
/// give up after five minutes, so the run ends).
@Suite("HTTP server: a TLS handshake on a plain HTTP port", .timeLimit(.minutes(3)))
struct HTTPServerTLSHandshakeTests {
    /// A server that waits an hour for a request head, logging to `sink`.
    static func patientServer(logger: Logger) -> HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration(headerReadTimeout: .seconds(3600), idleTimeout: .seconds(3600))
        configuration.logger = logger
        return configuration
    }

    /// A TLS 1.2 ClientHello record with `random` as its 32 random bytes, one cipher suite and no
    /// extensions; none of its other bytes is a CR or LF.
    static func clientHello(random: [UInt8]) -> [UInt8] {
        precondition(random.count == 32)
        let body: [UInt8] = [0x03, 0x03] + random + [0x00, 0x00, 0x02, 0xC0, 0x2F, 0x01, 0x00, 0x00, 0x00]
        let handshake: [UInt8] = [0x01, 0x00, 0x00, UInt8(body.count)] + body
        return [0x16, 0x03, 0x01, 0x00, UInt8(handshake.count)] + handshake
    }

    @Test func aHelloWithOrWithoutLineBreaksIsAnswered400AtOnceAndClosed() async throws {
        let (logger, lines) = capturingLogger("http")
        try await withServer(Self.patientServer(logger: logger)) { server in
            let withoutLineBreaks = (0..<32).map { UInt8(0x20 + $0) }
            var withCR = withoutLineBreaks
            withCR[5] = 0x0D
            var withLF = withoutLineBreaks
            withLF[9] = 0x0A
            for random in [withoutLineBreaks, withCR, withLF] {
                let hello = Self.clientHello(random: random)
                #expect(hello.contains(0x0D) == random.contains(0x0D) && hello.contains(0x0A) == random.contains(0x0A))
                let client = try RawSocketClient(connectTo: server.localAddress, timeoutSeconds: 300)
                try client.send(hello)
                let answer = String(decoding: try await client.readUntilClose(), as: UTF8.self)
                #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(answer)")
                #expect(answer.contains("a TLS handshake was sent to a plain HTTP port; use http://"), "\(answer)")
                #expect(answer.contains("Connection: close"), "\(answer)")
            }
            #expect(logContains(lines, "level=info", "sent a TLS handshake on a plain HTTP port"), "\(lines.lines)")
            // Requests still work, and a first byte of 0x16 alone is no TLS record: refused as before.
            let (response, _) = try await exchange(server, "GET /after HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(response.status == 200 && response.bodyText == "GET /after")
            let (refused, _) = try await exchange(server, "\u{16}GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(refused.status == 400 && !refused.bodyText.contains("TLS"), "\(refused.bodyText)")
        }
    }

    /// `openssl s_client` (each run a new random hello, TLS 1.2 and 1.3) fails at once: it reads
    /// the plain answer as a broken TLS record.
    @Test func openSSLClientFailsAtOnce() async throws {
        let (logger, lines) = capturingLogger("http")
        try await withServer(Self.patientServer(logger: logger)) { server in
            let connect = ["s_client", "-connect", "127.0.0.1:\(server.localAddress.port)"]
            for version in ["-tls1_2", "-tls1_3", "-tls1_2", "-tls1_3", "-tls1_2", "-tls1_3"] {
                let result = try await ChildProcess.run("/bin/sh", ["-c", ([CertificateFixture.openssl] + connect + [version])
                    .map { "'\($0)'" }.joined(separator: " ") + " </dev/null"], timeout: .seconds(300))
                #expect(result.status != 0, "\(result.output)")
                #expect(result.output.contains("wrong version number") || result.output.contains("packet length too long"),
                        "\(result.output)")
            }
            #expect(logContains(lines, "sent a TLS handshake on a plain HTTP port"), "\(lines.lines)")
        }
    }
}
