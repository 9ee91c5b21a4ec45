import DiscoNet
import Testing

@Suite("Framed connections over loopback TCP")
struct FramedConnectionTests {
    @Test func framesRoundTripBothWays() async throws {
        let listener = try await TCPListener.bind()
        let echo = Task {
            let server = FramedConnection(try await listener.accept())
            for try await frame in server.frames() {
                try await server.send(Frame(type: frame.type &+ 1, payload: frame.payload.reversed()))
            }
        }
        let client = try await FramedConnection.connect(host: "127.0.0.1", port: listener.localAddress.port)
        let sent = (0..<50).map { Frame(type: UInt8($0), payload: Array(repeating: UInt8($0), count: $0 * 1000)) }
        for frame in sent { try await client.send(frame) }
        var iterator = client.frames().makeAsyncIterator()
        for frame in sent {
            let reply = try await iterator.next()
            #expect(reply == Frame(type: frame.type + 1, payload: frame.payload.reversed()))
        }
        client.close()
        try await echo.value
        listener.close()
    }

    @Test func receiverRejectsOversizeFrameAndCloses() async throws {
        let listener = try await TCPListener.bind()
        let receiver = Task { () -> FrameError? in
            let server = FramedConnection(try await listener.accept(), maxPayloadBytes: 100)
            do {
                for try await _ in server.frames() {}
                return nil
            } catch let error as FrameError {
                return error
            }
        }
        let client = try await FramedConnection.connect(host: "127.0.0.1", port: listener.localAddress.port)
        try await client.send(Frame(type: 1, payload: Array(repeating: 0, count: 101)))
        let error = try await receiver.value
        #expect(error?.code == .oversize)
        #expect(try await client.connection.read() == nil, "receiver closed the connection")
        listener.close()
    }

    @Test func senderRefusesOversizePayload() async throws {
        let listener = try await TCPListener.bind()
        let client = try await FramedConnection.connect(host: "127.0.0.1", port: listener.localAddress.port, maxPayloadBytes: 4)
        await #expect(throws: FrameError.self) { try await client.send(Frame(type: 1, payload: [1, 2, 3, 4, 5])) }
        client.close()
        listener.close()
    }
}
