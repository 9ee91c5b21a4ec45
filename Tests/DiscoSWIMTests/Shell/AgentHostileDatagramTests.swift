import DiscoCore
import Foundation
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - Datagrams that decode but claim the impossible

/// Serialized with the other agent tests' style: one agent process at a time.
@Suite(.serialized) struct AgentHostileDatagramTests {
    /// Sends `packet` to the agent and waits for the ack of a plain ping sent after it (a member
    /// that still acks is still running).
    static func acksAfter(_ packet: SWIM.Packet, to destination: SocketAddress, sequence: SWIM.Sequence) async throws -> Bool {
        let socket = try await UDPSocket.bind()
        defer { socket.close() }
        try await socket.send(SWIM.WireCodec.encode(packet), to: destination)
        let ping = SWIM.Packet(message: .ping(sequence: sequence, source: "tester", target: "victim"))
        for _ in 0..<20 {
            try await socket.send(SWIM.WireCodec.encode(ping), to: destination)
            guard let datagram = try await socket.receive(maxBytes: 65_536, timeout: .seconds(1)) else { continue }
            if case .ack(sequence, _)? = try? SWIM.WireCodec.decodePacket(datagram.bytes).message { return true }
        }
        return false
    }

    @Test("a claim about a member at the highest incarnation does not crash it", arguments: [
        SWIM.GossipItem.suspect(id: "victim", incarnation: .max, accuser: "tester"),
        SWIM.GossipItem.dead(id: "victim", incarnation: .max, accuser: "tester"),
        SWIM.GossipItem.alive(id: "victim", incarnation: .max, address: PeerAddress(host: "127.0.0.1", port: 9), metadata: SWIM.Metadata()),
        SWIM.GossipItem.left(id: "victim", incarnation: .max),
    ])
    func highestIncarnationClaimDoesNotCrash(claim: SWIM.GossipItem) async throws {
        let (agent, port) = try await AgentProcessTests.startAgent("victim")
        defer { agent.send(SIGKILL) }
        guard let destination = SocketAddress(numericHost: "127.0.0.1", port: port) else {
            Issue.record("cannot address 127.0.0.1:\(port)")
            return
        }
        let hostile = SWIM.Packet(message: .gossip, gossip: [claim])
        let acked = try await Self.acksAfter(hostile, to: destination, sequence: 77)
        #expect(acked && agent.isRunning, "exit status \(String(describing: agent.exitStatus)); output:\n\(agent.output.suffix(2000))")
    }
}
