import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

@Suite("TCP connections: failures reach the waiting task")
struct TCPConnectionFailureTests {
    /// The peer closes with our bytes unread, so its kernel answers with a reset: a read already
    /// waiting must fail with it, not wait forever.
    @Test func aPendingReadFailsWhenThePeerResets() async throws {
        let listener = try await TCPListener.bind()
        let accepted = Task {
            let connection = try await listener.accept()
            _ = try await connection.read(maxBytes: 1)
            return connection
        }
        let probe = TransportProbe()
        let client = try await TCPConnection.connect(to: listener.localAddress, transport: InstrumentedTransportFactory(probe: probe))
        try await client.write([UInt8](repeating: 7, count: 10_000))
        let server = try await accepted.value
        let outcome = Mutex<String?>(nil)
        let reader = Task {
            do {
                let bytes = try await client.read()
                outcome.withLock { $0 = "read \(bytes?.count ?? -1) bytes" }
            } catch let error as NetworkError {
                outcome.withLock { $0 = "\(error.code)" }
            }
        }
        // Once the read waits for input, the peer goes away with 9,999 bytes unread: a reset.
        try await waitUntil("the read to wait for input") { probe.wantsRead }
        server.close()
        try await waitUntil("the pending read to end") { outcome.withLock { $0 } != nil }
        #expect(outcome.withLock { $0 } == "connection reset")
        try await reader.value
        listener.close()
    }
}
