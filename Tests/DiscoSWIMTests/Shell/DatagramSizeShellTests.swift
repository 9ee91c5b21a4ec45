import DiscoCore
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - Datagrams of every size reach the core

/// The shell reads datagrams into one buffer per socket: a packet as large as a datagram can be
/// is read whole, and the short one after it is read alone.
@Suite struct DatagramSizeShellTests {
    /// A gossip packet of alive claims about made-up members, as close to `limit` bytes as
    /// whole claims allow, and the members it names.
    static func largeGossip(limit: Int) -> (bytes: [UInt8], ids: [NodeID]) {
        var items: [SWIM.GossipItem] = []
        var ids: [NodeID] = []
        var bytes = SWIM.WireCodec.encode(SWIM.Packet(message: .gossip))
        for index in 0..<SWIM.WireCodec.maxGossipItems {
            let id = NodeID(stringLiteral: "far-\(index)-" + String(repeating: "x", count: 230))
            let item = SWIM.GossipItem.alive(id: id, incarnation: 1, address: PeerAddress(host: "127.0.0.1", port: UInt16(10_000 + index)),
                                             metadata: SWIM.Metadata())
            let next = SWIM.WireCodec.encode(SWIM.Packet(message: .gossip, gossip: items + [item]))
            guard next.count <= limit else { break }
            items.append(item)
            ids.append(id)
            bytes = next
        }
        return (bytes, ids)
    }

    @Test func aPacketOfTheLargestDatagramSizeAndAShortOneAfterItAreBothRead() async throws {
        try await withShells { group in
            let shell = try await group.start("big")
            let raw = try await UDPSocket.bind()
            defer { raw.close() }
            let destination = try #require(SocketAddress(numericHost: shell.address.host, port: shell.address.port))
            let (large, ids) = Self.largeGossip(limit: SWIM.WireCodec.maxDatagramSize)
            #expect(large.count > SWIM.WireCodec.maxDatagramSize - 300, "the packet is \(large.count) bytes")
            try await raw.send(large, to: destination)
            let lastID = try #require(ids.last)
            try await waitUntil("the large packet's last member to be known") { await shell.member(lastID) != nil }
            #expect(await shell.statistics.datagramsDropped == 0)

            // A ping right after it: read alone (no bytes of the large packet left behind), answered.
            let ping = SWIM.WireCodec.encode(SWIM.Packet(message: .ping(sequence: 9, source: "tester", target: "big")))
            var acked = false
            for _ in 0..<30 where !acked {
                try await raw.send(ping, to: destination)
                guard let answer = try await raw.receive(maxBytes: 65_536, timeout: .seconds(1)) else { continue }
                if case .ack(9, _)? = try? SWIM.WireCodec.decodePacket(answer.bytes).message { acked = true }
            }
            #expect(acked, "no ack to a ping sent after the large packet")
            #expect(await shell.statistics.datagramsDropped == 0)
            #expect(await shell.statistics.datagramsReceived >= 2)
        }
    }
}
