import DiscoNet
import DiscoTestKit
import Testing

/// Connected UDP sockets and receives with a deadline kept by the event loop.
@Suite("Sockets: connected UDP and receive timeouts")
struct ConnectedUDPTests {
    @Test func aConnectedSocketExchangesWithItsPeerOnly() async throws {
        let server = try await UDPSocket.bind()
        let stranger = try await UDPSocket.bind()
        defer { server.close(); stranger.close() }
        let client = try await UDPSocket.connected(to: server.localAddress)
        defer { client.close() }
        try await client.send([1, 2, 3], to: server.localAddress)
        let request = try await server.receive()
        #expect(request.bytes == [1, 2, 3])
        try await stranger.send([9], to: request.sender)  // not the peer: the kernel drops it
        try await server.send([4, 5], to: request.sender)
        let reply = try #require(try await client.receive(timeout: .seconds(10)))
        #expect(reply.bytes == [4, 5])
        #expect(reply.sender == server.localAddress)
    }

    @Test func aClosedPortIsReportedAsRefused() async throws {
        let port = try FreePort.loopback()  // free for UDP: nothing listens there
        let peer = try #require(SocketAddress(numericHost: "127.0.0.1", port: port))
        let client = try await UDPSocket.connected(to: peer)
        defer { client.close() }
        try await client.send([0], to: peer)
        let error = await #expect(throws: NetworkError.self) { _ = try await client.receive(timeout: .seconds(10)) }
        #expect(error?.code == .connectRefused)
        #expect(error?.peer == "127.0.0.1:\(port)")
    }

    @Test func aReceiveWithATimeoutEndsWithNothingAndTheSocketStaysUsable() async throws {
        let a = try await UDPSocket.bind()
        let b = try await UDPSocket.bind()
        defer { a.close(); b.close() }
        #expect(try await a.receive(timeout: .milliseconds(20)) == nil)
        #expect(try await a.receive(timeout: .zero - .milliseconds(300)) == nil, "a deadline already past gives nothing at once")
        try await b.send([7], to: a.localAddress)
        #expect(try await a.receive(timeout: .seconds(10))?.bytes == [7])
    }
}
