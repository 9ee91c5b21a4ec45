import DiscoCore
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - A flood from one sender

/// Datagrams beyond a sender's budget are dropped before they are opened or decoded, counted
/// and logged (rate-limited); other senders are still answered.
@Suite struct SenderBudgetShellTests {
    /// Whether `socket` gets an ack to a ping it sends `shell` (a few tries).
    static func acked(_ socket: UDPSocket, by shell: SWIM.Shell, sequence: UInt64) async throws -> Bool {
        let destination = try #require(SocketAddress(numericHost: shell.address.host, port: shell.address.port))
        let ping = SWIM.WireCodec.encode(SWIM.Packet(message: .ping(sequence: SWIM.Sequence(sequence), source: "tester", target: shell.id)))
        for _ in 0..<30 {
            try await socket.send(ping, to: destination)
            guard let answer = try await socket.receive(maxBytes: 65_536, timeout: .seconds(1)) else { continue }
            if case .ack(let acked, _)? = try? SWIM.WireCodec.decodePacket(answer.bytes).message, acked == SWIM.Sequence(sequence) {
                return true
            }
        }
        return false
    }

    @Test func aSenderBeyondItsBudgetIsDroppedUnreadAndOthersAreStillAnswered() async throws {
        try await withShells { group in
            let logs = RecordingLogHandler()
            let began = ContinuousClock.now
            // A budget tiny enough that the flood below exceeds it on any machine: 1 a second, 5 at once.
            let shell = try await group.start("flooded") { configuration in
                configuration.senderBudget = SWIM.SenderBudget(rate: 1, burst: 5)
                configuration.logger = Logger(label: "swim", level: .info, handler: logs)
            }
            let flooder = try await UDPSocket.bind()
            let member = try await UDPSocket.bind()
            defer { flooder.close(); member.close() }
            let destination = try #require(SocketAddress(numericHost: shell.address.host, port: shell.address.port))
            // Garbage would count as dropped once read: the budget must drop it before that.
            let flood: [UInt8] = [0xEE, 1, 2, 3]
            var sent = 0
            for _ in 0..<10 {
                for _ in 0..<20 { try await flooder.send(flood, to: destination) }
                sent += 20
                // Each batch is read before the next goes out, so the kernel drops none.
                try await waitUntil("the shell to read \(sent) datagrams") {
                    let statistics = await shell.statistics
                    return statistics.datagramsDropped + statistics.datagramsRateLimited >= sent
                }
            }
            let statistics = await shell.statistics
            let elapsed = Int((ContinuousClock.now - began) / .seconds(1)) + 1
            #expect(statistics.datagramsDropped + statistics.datagramsRateLimited == sent)
            #expect(statistics.datagramsDropped <= 5 + elapsed, "\(statistics.datagramsDropped) read in about \(elapsed) s")
            #expect(statistics.datagramsRateLimited >= sent - 5 - elapsed)

            // Another sender is answered: its budget is its own.
            #expect(try await Self.acked(member, by: shell, sequence: 41))

            let lines = logs.records(at: .warning, containing: "dropped datagrams from a sender beyond its rate")
            #expect(!lines.isEmpty)
            #expect(lines.count <= 1 + elapsed / 10, "\(lines.count) lines for \(statistics.datagramsRateLimited) datagrams")
        }
    }

    @Test func withoutABudgetEveryDatagramIsRead() async throws {
        try await withShells { group in
            let shell = try await group.start("unbounded") { $0.senderBudget = nil }
            let socket = try await UDPSocket.bind()
            defer { socket.close() }
            let destination = try #require(SocketAddress(numericHost: shell.address.host, port: shell.address.port))
            for _ in 0..<50 { try await socket.send([0xEE], to: destination) }
            try await waitUntil("all 50 datagrams read as garbage") { await shell.statistics.datagramsDropped == 50 }
            #expect(await shell.statistics.datagramsRateLimited == 0)
        }
    }
}
