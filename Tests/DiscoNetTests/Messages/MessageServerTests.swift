import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

/// Echoes each request with a one-byte transport tag in front; answers nothing to a request that
/// starts with 0xFF.
final class TaggingEcho: MessageResponder {
    let calls = Atomic<Int>(0)

    func respond(to request: UnsafeRawBufferPointer, over transport: MessageTransport, into response: UnsafeMutableRawBufferPointer) -> Int {
        calls.add(1, ordering: .relaxed)
        guard request.first != 0xFF, request.count + 1 <= response.count else { return 0 }
        response[0] = transport == .datagram ? 0x44 : 0x53
        for (index, byte) in request.enumerated() { response[index + 1] = byte }
        return request.count + 1
    }
}

/// The request/response servers DNS runs on, with a protocol of their own.
@Suite struct MessageServerTests {
    static let loopback = SocketAddress(numericHost: "127.0.0.1", port: 0)!

    @Test func udpAnswersEveryDatagramToItsSender() async throws {
        let loop = try EventLoop(name: "udp-test")
        defer { loop.shutdown() }
        let server = try await UDPResponder.start(address: Self.loopback, configuration: UDPResponderConfiguration(batchSize: 8),
                                                  loop: loop, responder: TaggingEcho())
        let clients = [try await UDPSocket.connected(to: server.localAddress), try await UDPSocket.connected(to: server.localAddress)]
        for round in 0..<10 {
            for (index, client) in clients.enumerated() {
                for message in 0..<10 { try await client.send([UInt8(index), UInt8(round), UInt8(message)], to: server.localAddress) }
            }
            for (index, client) in clients.enumerated() {
                for message in 0..<10 {
                    let datagram = try #require(try await client.receive(maxBytes: 100, timeout: .seconds(30)))
                    #expect(datagram.bytes == [0x44, UInt8(index), UInt8(round), UInt8(message)])
                }
            }
        }
        let statistics = await server.statistics()
        #expect(statistics.received == 200 && statistics.sent == 200 && statistics.oversize == 0)
        for client in clients { client.close() }
        await server.close()
    }

    @Test func oversizeAndUnansweredDatagramsGetNothing() async throws {
        let loop = try EventLoop(name: "udp-test")
        defer { loop.shutdown() }
        let server = try await UDPResponder.start(address: Self.loopback, configuration: UDPResponderConfiguration(maxRequestSize: 64),
                                                  loop: loop, responder: TaggingEcho())
        let client = try await UDPSocket.connected(to: server.localAddress)
        try await client.send([UInt8](repeating: 7, count: 65), to: server.localAddress)
        try await client.send([0xFF, 1], to: server.localAddress)
        try await client.send([1, 2, 3], to: server.localAddress)
        let first = try #require(try await client.receive(maxBytes: 100, timeout: .seconds(30)))
        #expect(first.bytes == [0x44, 1, 2, 3], "neither the 65-byte datagram nor the unanswered one got a reply")
        let statistics = await server.statistics()
        #expect(statistics.received == 3 && statistics.oversize == 1 && statistics.sent == 1)
        client.close()
        await server.close()
    }

    static func framed(_ bytes: [UInt8]) -> [UInt8] { [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes }

    /// Every whole framed message in `bytes`.
    static func frames(_ bytes: [UInt8]) -> [[UInt8]] {
        var rest = bytes[...]
        var messages: [[UInt8]] = []
        while rest.count >= 2 {
            let length = Int(rest[rest.startIndex]) << 8 | Int(rest[rest.startIndex + 1])
            guard rest.count >= 2 + length else { break }
            messages.append(Array(rest.dropFirst(2).prefix(length)))
            rest = rest.dropFirst(2 + length)
        }
        return messages
    }

    @Test func tcpAnswersSplitAndPipelinedMessagesInOrder() async throws {
        let loop = try EventLoop(name: "tcp-test")
        defer { loop.shutdown() }
        let server = try await TCPMessageServer.start(address: Self.loopback, loop: loop, responder: TaggingEcho())
        let client = try RawSocketClient(connectTo: server.localAddress)
        // One message a byte at a time, then 100 in one write, then the end of the stream.
        for byte in Self.framed([9, 8, 7]) { try client.send([byte]) }
        try client.send((0..<100).flatMap { Self.framed([UInt8($0), 0xAA]) })
        client.shutdownWrite()
        let answers = Self.frames(try await client.readUntilClose())
        #expect(answers.first == [0x53, 9, 8, 7])
        #expect(Array(answers.dropFirst()) == (0..<100).map { [0x53, UInt8($0), 0xAA] })
        #expect(await server.statistics().messages == 101)
        await server.close()
    }

    @Test func aClientThatDoesNotReadIsNotBufferedWithoutBound() async throws {
        let loop = try EventLoop(name: "tcp-test")
        defer { loop.shutdown() }
        let configuration = TCPMessageServerConfiguration(maxPendingOutput: 16 * 1024)
        let responder = TaggingEcho()
        let server = try await TCPMessageServer.start(address: Self.loopback, configuration: configuration, loop: loop, responder: responder)
        let client = try RawSocketClient(connectTo: server.localAddress)
        // 8 MB of requests: far more than the socket buffers and the 16 KB of pending output hold.
        let message = Self.framed([UInt8](repeating: 1, count: 4000))
        let total = 2000
        let sender = Task.detached {
            for _ in 0..<total { try client.send(message) }
            client.shutdownWrite()
        }
        // The server stops reading once its output backs up, long before it has all the requests:
        // the count of answered requests stops moving (without back-pressure it would reach 2000).
        var last = -1
        try await waitUntil("the server to stop reading", pollEvery: .milliseconds(200)) {
            let now = responder.calls.load(ordering: .relaxed)
            defer { last = now }
            return now > 0 && now == last && now < total
        }
        let answers = Self.frames(try await client.readUntilClose())
        try await sender.value
        #expect(answers.count == total && answers.allSatisfy { $0.count == 4001 })
        await server.close()
    }

    @Test func closingTheServerClosesItsConnections() async throws {
        let loop = try EventLoop(name: "tcp-test")
        defer { loop.shutdown() }
        // No idle timeout within the test's life, however slow the machine.
        let configuration = TCPMessageServerConfiguration(idleTimeout: .seconds(3600))
        let server = try await TCPMessageServer.start(address: Self.loopback, configuration: configuration, loop: loop, responder: TaggingEcho())
        let client = try RawSocketClient(connectTo: server.localAddress)
        try client.send(Self.framed([1]))
        #expect(await client.waitReadable(milliseconds: 30_000))
        #expect(await server.statistics().open == 1)
        await server.close()
        #expect(Self.frames(try await client.readUntilClose()) == [[0x53, 1]])
    }
}
