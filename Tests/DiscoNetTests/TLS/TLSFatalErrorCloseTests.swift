import DiscoCore
@testable import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

/// After a fatal OpenSSL error (`SSL_ERROR_SYSCALL`, `SSL_ERROR_SSL`) the connection must not
/// call `SSL_shutdown`: OpenSSL forbids it. Clients treat a FIN without close_notify as an
/// error, so an idle pooled HTTPS connection whose server went away that way meets one the
/// moment the pool asks whether it is stale, and is then closed.
@Suite("TLS close after a fatal error")
struct TLSFatalErrorCloseTests {
    /// The server closes with close_notify; the relay drops it (and every alert) and passes the
    /// FIN, then records what the client writes after that FIN. The staleness check meets the
    /// unexpected EOF; the connection is marked broken, and closing it writes no close_notify.
    @Test func aStaleCheckThatMeetsAnUnexpectedEOFMarksTheConnectionBroken() async throws {
        let certificates = try await TLSTestCertificates.get()
        var serverTLS = certificates.serverTLS()
        serverTLS.maximumVersion = .tls12  // the relay tells records apart by their type
        let listener = try await TCPListener.bind(transport: try TLSTransportFactory.server(serverTLS))
        defer { listener.close() }
        let server = Task {
            let connection = try await listener.accept()
            _ = try await connection.read()  // the handshake, then the client's one byte
            connection.close()
        }
        let relay = try await AlertDroppingRelay.start(to: listener.localAddress)
        defer { relay.stop() }

        let recorder = TransportRecorder(try TLSTransportFactory.client(certificates.clientTLS()))
        let connection = try await TCPConnection.connect(host: "127.0.0.1", port: relay.port, transport: recorder)
        try await connection.write([1])
        try await server.value
        try await waitUntil("the client to see the server's FIN") { await connection.isStale() }
        let channel = connection.channel
        let broken = try await channel.loop.submit { (channel.transport as? TLSTransport)?.sslBroken }
        #expect(broken == true, "an unexpected EOF met by the staleness check must mark the connection broken")
        connection.close()
        let afterFIN = try await relay.bytesAfterFIN()
        // OpenSSL may send its own fatal alert when it meets the EOF (one record at most);
        // a close_notify after that would be a second alert record.
        #expect(afterFIN.count <= 1, "the client wrote \(afterFIN.count) alert records after the error: \(afterFIN)")
        #expect(recorder.made == 1)
    }
}

/// A client factory over `inner` that counts the transports it made.
private final class TransportRecorder: ByteStreamTransportFactory, Sendable {
    let inner: TLSTransportFactory
    private let count = Mutex(0)
    var made: Int { count.withLock { $0 } }

    init(_ inner: TLSTransportFactory) {
        self.inner = inner
    }

    func makeTransport(over tcp: TCPTransport, role: TransportRole) throws -> any ByteStreamTransport {
        count.withLock { $0 += 1 }
        return try inner.makeTransport(over: tcp, role: role)
    }
}

/// A relay for TLS 1.2: passes everything but alert records (21) from the server, closes
/// towards the client with a FIN once the server has finished, and records the records the
/// client writes after that FIN (their types) until it closes.
private final class AlertDroppingRelay: Sendable {
    let listener: TCPListener
    let task: Task<[UInt8], Never>
    var port: UInt16 { listener.localAddress.port }

    private init(listener: TCPListener, task: Task<[UInt8], Never>) {
        self.listener = listener
        self.task = task
    }

    static func start(to server: SocketAddress) async throws -> AlertDroppingRelay {
        let listener = try await TCPListener.bind()
        let task = Task { () -> [UInt8] in
            guard let client = try? await listener.accept(),
                  let upstream = try? await TCPConnection.connect(to: server) else { return [] }
            let serverFinished = Mutex(false)
            let forward = Task { () -> [UInt8] in
                var late: [UInt8] = []
                while let bytes = try? await client.read() {
                    if serverFinished.withLock({ $0 }) { late += bytes } else { try? await upstream.write(bytes) }
                }
                upstream.shutdownWrite()
                return late
            }
            var splitter = TLSRecordSplitter()
            while let bytes = try? await upstream.read() {
                for record in splitter.records(adding: bytes) where record[0] != 21 { try? await client.write(record) }
            }
            serverFinished.withLock { $0 = true }
            client.shutdownWrite()
            let late = await forward.value
            client.close()
            upstream.close()
            return TLSRecordSplitter.recordTypes(late)
        }
        return AlertDroppingRelay(listener: listener, task: task)
    }

    /// The types of the records the client wrote after the relay's FIN, once the client closed.
    func bytesAfterFIN() async throws -> [UInt8] {
        await task.value
    }

    func stop() {
        task.cancel()
        listener.close()
    }
}
