import DiscoNet
import Testing

// MARK: - Receiving datagrams into one buffer per socket

/// A socket reads every datagram into one buffer and copies out exactly the bytes received, so
/// each datagram comes whole, alone, and no larger than it is.
@Suite("UDP receive: sizes, truncation, datagrams that do not share bytes")
struct UDPReceiveTests {
    /// `count` bytes that differ from datagram to datagram (`seed`) and from byte to byte.
    static func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed }
    }

    @Test func datagramsOfEverySizeUpToTheLimitArriveWhole() async throws {
        let sender = try await UDPSocket.bind()
        let receiver = try await UDPSocket.bind()
        defer { sender.close(); receiver.close() }
        // 65,507 bytes: the largest UDP payload over IPv4; the sizes go up and down again, so a
        // short datagram follows a long one in the same buffer.
        let sizes = [0, 1, 2, 7, 511, 512, 1_400, 4_096, 32_768, 65_507, 3, 65_506, 0, 100]
        for (index, size) in sizes.enumerated() {
            let bytes = Self.pattern(size, seed: UInt8(index))
            try await sender.send(bytes, to: receiver.localAddress)
            let datagram = try #require(try await receiver.receive(timeout: .seconds(30)), "no datagram of \(size) bytes")
            #expect(datagram.bytes.count == size)
            #expect(datagram.bytes == bytes, "the datagram of \(size) bytes arrived altered")
            #expect(datagram.sender == sender.localAddress)
        }
    }

    @Test func consecutiveDatagramsDoNotShareBytes() async throws {
        let sender = try await UDPSocket.bind()
        let receiver = try await UDPSocket.bind()
        defer { sender.close(); receiver.close() }
        let long = [UInt8](repeating: 0xAA, count: 2_000)
        try await sender.send(long, to: receiver.localAddress)
        let first = try #require(try await receiver.receive(timeout: .seconds(30)))
        try await sender.send([0xBB, 0xBB, 0xBB], to: receiver.localAddress)
        let second = try #require(try await receiver.receive(timeout: .seconds(30)))
        #expect(first.bytes == long, "the first datagram changed when the second arrived")
        #expect(second.bytes == [0xBB, 0xBB, 0xBB], "the second datagram carries bytes of the first")
    }

    @Test func aSmallDatagramHoldsNoMoreMemoryThanItsBytes() async throws {
        let sender = try await UDPSocket.bind()
        let receiver = try await UDPSocket.bind()
        defer { sender.close(); receiver.close() }
        for round in 0..<3 {
            try await sender.send(Self.pattern(100, seed: UInt8(round)), to: receiver.localAddress)
            let datagram = try #require(try await receiver.receive(timeout: .seconds(30)))
            #expect(datagram.bytes == Self.pattern(100, seed: UInt8(round)))
            // Not the 64 KiB buffer it was read into: a caller that keeps datagrams keeps their bytes only.
            #expect(datagram.bytes.capacity < 1_024, "a 100-byte datagram holds \(datagram.bytes.capacity) bytes")
        }
    }

    @Test func aSmallerMaxBytesTruncatesAndALargerOneGetsWholeDatagramsAgain() async throws {
        let sender = try await UDPSocket.bind()
        let receiver = try await UDPSocket.bind()
        defer { sender.close(); receiver.close() }
        let hundred = Self.pattern(100, seed: 1)
        try await sender.send(hundred, to: receiver.localAddress)
        let truncated = try #require(try await receiver.receive(maxBytes: 10, timeout: .seconds(30)))
        #expect(truncated.bytes == Array(hundred.prefix(10)))

        let large = Self.pattern(20_000, seed: 2)
        try await sender.send(large, to: receiver.localAddress)
        #expect(try await receiver.receive(maxBytes: 20_000, timeout: .seconds(30))?.bytes == large)

        try await sender.send(hundred, to: receiver.localAddress)
        #expect(try await receiver.receive(maxBytes: 0, timeout: .seconds(30))?.bytes == [])
        try await sender.send(large, to: receiver.localAddress)
        #expect(try await receiver.receive(maxBytes: 19_999, timeout: .seconds(30))?.bytes == Array(large.prefix(19_999)))
    }

    @Test(arguments: [1, 2, 64])
    func aBatchReceiveReturnsQueuedDatagramsInOrderAndNoMoreThanAsked(maxCount: Int) async throws {
        let sender = try await UDPSocket.bind()
        let receiver = try await UDPSocket.bind()
        defer { sender.close(); receiver.close() }
        let sent = (0..<20).map { Self.pattern(10 + $0 * 100, seed: UInt8($0)) }
        for bytes in sent { try await sender.send(bytes, to: receiver.localAddress) }
        var received: [[UInt8]] = []
        while received.count < sent.count {
            let batch = try await receiver.receive(upTo: maxCount)
            #expect(!batch.isEmpty && batch.count <= maxCount, "a batch of \(batch.count) for at most \(maxCount)")
            #expect(batch.allSatisfy { $0.sender == sender.localAddress })
            received += batch.map(\.bytes)
        }
        #expect(received == sent)
    }
}
