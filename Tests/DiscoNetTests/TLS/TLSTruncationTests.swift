import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// A response body delimited by the end of the connection, over TLS: only a close_notify ends
/// it. A TCP FIN without one is what a truncation attack looks like (someone on the path drops
/// the last records and closes), and must not be taken as the whole body.
@Suite("TLS truncation")
struct TLSTruncationTests {
    /// The server (TLS 1.2, so the relay can tell records apart by their type) answers with a
    /// body read until close, in two records, then closes with close_notify. The relay between
    /// it and our client passes the handshake and the first application record only, then
    /// closes with a plain FIN: the client sees half the body and no close_notify.
    @Test func aCloseDelimitedBodyCutWithoutCloseNotifyIsAnError() async throws {
        let certificates = try await TLSTestCertificates.get()
        var serverTLS = certificates.serverTLS()
        serverTLS.maximumVersion = .tls12
        let listener = try await TCPListener.bind(transport: try TLSTransportFactory.server(serverTLS))
        defer { listener.close() }
        let server = Task { try await answerWithTwoRecordsUntilClose(listener) }
        let relay = try await RecordDroppingRelay.start(to: listener.localAddress)
        defer { relay.stop() }

        let (attacked, _) = try tlsClient(certificates.clientTLS())
        let result: Result<HTTPClientResponse, any Error>
        do {
            result = .success(try await attacked.send(HTTPClientRequest(url: "https://127.0.0.1:\(relay.port)/")))
        } catch {
            result = .failure(error)
        }
        try await server.value
        switch result {
        case .success(let response):
            Issue.record("a body cut short without close_notify was taken as complete: \(response.status) \(response.bodyText.debugDescription)")
        case .failure(let error):
            #expect("\(error)".contains("unexpected eof"), "\(error)")
        }
        // Without the relay the whole body arrives (the server ends it with close_notify).
        let (direct, _) = try tlsClient(certificates.clientTLS())
        let server2 = Task { try await answerWithTwoRecordsUntilClose(listener) }
        let whole = try await direct.send(HTTPClientRequest(url: "https://127.0.0.1:\(listener.localAddress.port)/"))
        #expect(whole.bodyText == "first half; second half")
        try await server2.value
        await direct.shutdown()
        await attacked.shutdown()
    }

    /// A body whose length is known is complete at that length: a server that then closes
    /// without close_notify (here the relay drops it) is not an error.
    @Test func aSizedBodyNeedsNoCloseNotify() async throws {
        let certificates = try await TLSTestCertificates.get()
        var serverTLS = certificates.serverTLS()
        serverTLS.maximumVersion = .tls12
        let listener = try await TCPListener.bind(transport: try TLSTransportFactory.server(serverTLS))
        defer { listener.close() }
        let server = Task {
            let connection = try await listener.accept()
            var request: [UInt8] = []
            while !request.containsSequence(Array("\r\n\r\n".utf8)), let bytes = try await connection.read() {
                request += bytes
            }
            try await connection.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nfirst half;".utf8))
            connection.close()
        }
        let relay = try await RecordDroppingRelay.start(to: listener.localAddress)
        defer { relay.stop() }
        let (client, _) = try tlsClient(certificates.clientTLS())
        let response = try await client.send(HTTPClientRequest(url: "https://127.0.0.1:\(relay.port)/"))
        #expect(response.bodyText == "first half;")
        try await server.value
        await client.shutdown()
    }
}

/// Accepts one connection, reads the request head, answers with a body read until close in
/// two writes (two TLS records), and closes (with close_notify).
private func answerWithTwoRecordsUntilClose(_ listener: TCPListener) async throws {
    let connection = try await listener.accept()
    var request: [UInt8] = []
    while !request.containsSequence(Array("\r\n\r\n".utf8)), let bytes = try await connection.read() {
        request += bytes
    }
    try await connection.write(Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nfirst half;".utf8))
    try await connection.write(Array(" second half".utf8))
    connection.close()
}

/// A man in the middle for TLS 1.2: passes what the client sends, and from the server the
/// handshake records and the first application-data record; drops every later record and
/// closes towards the client with a FIN once the server has finished.
private final class RecordDroppingRelay: Sendable {
    let listener: TCPListener
    let task: Task<Void, Never>
    var port: UInt16 { listener.localAddress.port }

    private init(listener: TCPListener, task: Task<Void, Never>) {
        self.listener = listener
        self.task = task
    }

    static func start(to server: SocketAddress) async throws -> RecordDroppingRelay {
        let listener = try await TCPListener.bind()
        let task = Task {
            guard let client = try? await listener.accept(),
                  let upstream = try? await TCPConnection.connect(to: server) else { return }
            let forward = Task {
                while let bytes = try? await client.read() { try? await upstream.write(bytes) }
                upstream.shutdownWrite()
            }
            var splitter = TLSRecordSplitter()
            var applicationRecords = 0
            while let bytes = try? await upstream.read() {
                for record in splitter.records(adding: bytes) {
                    let type = record[0]
                    if type == 23 { applicationRecords += 1 }
                    // Handshake (22) and change cipher spec (20) pass; of the application data
                    // (23) only the first; alerts (21: the close_notify) never.
                    if type == 22 || type == 20 || (type == 23 && applicationRecords == 1) {
                        try? await client.write(record)
                    }
                }
            }
            client.shutdownWrite()
            _ = await forward.value
            while (try? await client.read()) != nil {}
            client.close()
            upstream.close()
        }
        return RecordDroppingRelay(listener: listener, task: task)
    }

    func stop() {
        task.cancel()
        listener.close()
    }
}

extension Array where Element == UInt8 {
    fileprivate func containsSequence(_ needle: [UInt8]) -> Bool {
        guard count >= needle.count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
