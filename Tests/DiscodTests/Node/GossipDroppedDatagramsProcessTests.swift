import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing

// MARK: - Datagrams that are no SWIM packet, as /metrics shows them

extension NodeProcessTests {
    @Suite struct GossipDroppedDatagrams {
        /// Garbage, a truncated packet and sealed datagrams sent to a node without a gossip key
        /// are dropped, and `/metrics` counts them: an operator sees a bad sender (or one node
        /// of a keyed cluster started without the key) in the metrics, not only in a
        /// rate-limited log line.
        @Test func droppedDatagramsAreCountedInMetrics() async throws {
            try await DiscodCluster.with("gossip-dropped") { cluster in
                let node = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: [])
                _ = try await DiscodCluster.waitForLeader([node])
                let target = try #require(SocketAddress(numericHost: node.host, port: node.raftPort))
                let socket = try await UDPSocket.bind()
                defer { socket.close() }
                let datagrams: [[UInt8]] = [
                    [0xEE, 0x01, 0x02],  // garbage
                    [0x01, 0x01, 0x85],  // a ping (version 1, type 1) cut off inside its sequence number
                    [0x81] + [UInt8](repeating: 7, count: 40),  // sealed (0x81), and this node has no key
                    [0x81] + [UInt8](repeating: 9, count: 60),
                ]
                for datagram in datagrams { try await socket.send(datagram, to: target) }
                try await NodeTests.eventually("/metrics to count the 4 dropped datagrams", [node]) {
                    await NodeProcessTests.GossipEncryption.metric(node, "disco_swim_datagrams_dropped_total{reason=\"not_swim\"}") == datagrams.count
                }
            }
        }
    }
}
