import DiscoCore
import DiscoDNSServer
import DiscoNet
import DiscoTestKit
import Testing

/// Snapshots swapped while queries stream: every answer comes whole from one snapshot.
@Suite struct SnapshotSwapTests {
    typealias F = ServerFixture

    @Test func everyAnswerComesFromOneSnapshot() async throws {
        // Two snapshots that differ in several names at once: member 2 alive or dead, and a
        // leader or none.
        let before = F.zone(extra: [])
        let after = F.zone(dead: ["2"], leader: nil, extra: [])
        try await F.with(before) { (server) async throws in
            let updates = Task.detached {
                for round in 0..<2000 { server.update(round % 2 == 0 ? after : before) }
            }
            let socket = try await UDPSocket.connected(to: server.localAddresses[0])
            for id in UInt16(0)..<400 {
                // `host.role` A has 3 addresses in one snapshot and 2 in the other, never a mix.
                try await socket.send(F.query("host.role.disco", .a, id: id), to: server.localAddresses[0])
                let datagram = try #require(try await socket.receive(maxBytes: 4096, timeout: .seconds(30)))
                let answer = try DNSMessage(parsing: datagram.bytes)
                #expect(answer.header.id == id)
                let addresses = answer.answers.compactMap { record -> String? in
                    if case .address(let ip) = record.data { return ip.description }
                    return nil
                }.sorted()
                #expect(addresses == ["127.0.0.1", "127.0.0.2", "127.0.0.3"] || addresses == ["127.0.0.1", "127.0.0.3"], "\(addresses)")
            }
            await updates.value
            socket.close()
            server.update(after)
            #expect(server.zone === after)
            let last = try await F.digData(server, ["host.role.disco", "A"], "ANSWER")
            #expect(last == ["127.0.0.1", "127.0.0.3"], "after the last update returns, every query sees it")
        }
    }
}
