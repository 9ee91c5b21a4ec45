import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// TLS under the async TCP API (the internode port): listener and connect with mutual TLS.
@Suite("TLS over TCPListener and TCPConnection")
struct TLSTransportTests {
    @Test func framesCrossAMutualTLSConnection() async throws {
        let certificates = try await TLSTestCertificates.get()
        let server = try TLSTransportFactory.server(certificates.serverTLS(verifyClients: true))
        let client = try TLSTransportFactory.client(certificates.clientTLS(certificates.client))
        let listener = try await TCPListener.bind(transport: server)
        defer { listener.close() }
        let echo = Task {
            let connection = FramedConnection(try await listener.accept())
            for try await frame in connection.frames() {
                try await connection.send(Frame(type: frame.type, payload: frame.payload.reversed()))
            }
        }
        let address = listener.localAddress
        let connection = FramedConnection(try await TCPConnection.connect(to: address, transport: client))
        var frames = connection.frames().makeAsyncIterator()
        for size in [1, 1000, 100_000, 1 << 20] {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 * 7) }
            try await connection.send(Frame(type: 9, payload: payload))
            let answer = try await frames.next()
            #expect(answer?.payload == payload.reversed())
        }
        connection.close()
        try await echo.value
    }

    @Test func aClientFromAnotherCAIsRefusedAndLoggedWithSubjectAndCA() async throws {
        let certificates = try await TLSTestCertificates.get()
        let (logger, lines) = capturingLogger()
        var tls = certificates.serverTLS(verifyClients: true, logger: logger)
        tls.label = "internode port"
        let listener = try await TCPListener.bind(transport: try TLSTransportFactory.server(tls))
        defer { listener.close() }
        let reader = Task {
            let accepted = try await listener.accept()
            // The handshake runs as the connection is first read; it fails there.
            _ = try await accepted.read()
        }
        let stranger = try TLSTransportFactory.client(certificates.clientTLS(certificates.otherCA))
        // TLS 1.3: the client finishes first; the server's refusal arrives as an alert (or,
        // once the server has closed, as a reset). Either way no byte comes back.
        if let connection = try? await TCPConnection.connect(to: listener.localAddress, transport: stranger) {
            try? await connection.write(Array("hello".utf8))
            let answer = try? await connection.read()
            #expect(answer == nil, "a refused client must not receive data")
            connection.close()
        }
        await #expect(throws: NetworkError.self) { try await reader.value }
        try await waitUntil("the refusal to be logged") {
            logContains(lines, "internode port: TLS handshake from 127.0.0.1", "CN=stranger", "CN=Other Test CA", "CN=Disco Test CA")
        }
    }

    @Test func theHandshakeFailureReachesConnect() async throws {
        let certificates = try await TLSTestCertificates.get()
        let listener = try await TCPListener.bind(transport: try TLSTransportFactory.server(certificates.serverTLS(certificates.otherCA)))
        defer { listener.close() }
        let accepting = Task { _ = try? await listener.accept().read() }
        let client = try TLSTransportFactory.client(certificates.clientTLS())
        let error = await #expect(throws: NetworkError.self) {
            _ = try await TCPConnection.connect(to: listener.localAddress, transport: client)
        }
        #expect(error?.code == .connectFailed)
        #expect(error?.detail.contains("unable to get local issuer certificate") == true, "\(String(describing: error))")
        #expect(error?.detail.contains("this side trusts \"CN=Disco Test CA\"") == true, "\(String(describing: error))")
        accepting.cancel()
    }

    /// A TLS client meeting a plain server that reads the ClientHello and hangs up (the
    /// internode port of a node started without `-node-cert`): the error suspects the missing
    /// TLS, not "unexpected eof while reading" alone.
    @Test func aPlainServerThatHangsUpIsSuspectedOfNotSpeakingTLS() async throws {
        let certificates = try await TLSTestCertificates.get()
        let listener = try await TCPListener.bind()
        defer { listener.close() }
        let accepting = Task {
            let connection = try await listener.accept()
            _ = try? await connection.read()
            connection.close()
        }
        let client = try TLSTransportFactory.client(certificates.clientTLS())
        let error = await #expect(throws: NetworkError.self) {
            _ = try await TCPConnection.connect(to: listener.localAddress, transport: client)
        }
        let detail = error?.detail ?? ""
        #expect(detail.contains("the server closed the connection during the TLS handshake without a TLS alert"), "\(detail)")
        #expect(detail.contains("does it speak TLS on this port"), "\(detail)")
        _ = try? await accepting.value
    }

    @Test func aServerContextCannotConnect() async throws {
        let certificates = try await TLSTestCertificates.get()
        let listener = try await TCPListener.bind()
        defer { listener.close() }
        let wrongSide = try TLSTransportFactory.server(certificates.serverTLS())
        let error = await #expect(throws: NetworkError.self) {
            _ = try await TCPConnection.connect(to: listener.localAddress, transport: wrongSide)
        }
        #expect(error?.detail.contains("a TLS server context cannot open connections") == true, "\(String(describing: error))")
    }
}
