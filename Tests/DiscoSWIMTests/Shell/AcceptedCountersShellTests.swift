import DiscoCore
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - What counts as gossip accepted during an upgrade

/// `unlabelledAccepted` and `plaintextAccepted` are what operators watch to finish a rolling
/// upgrade or the move to encryption ("stops growing"): bytes that are no SWIM message must
/// count as dropped, not as gossip accepted.
@Suite struct AcceptedCountersShellTests {
    /// Truncated: a ping whose sequence varint is cut off.
    static let truncated: [UInt8] = [SWIM.WireCodec.version, 1, 0x85]

    static func destination(_ shell: SWIM.Shell) throws -> SocketAddress {
        try #require(SocketAddress(numericHost: shell.address.host, port: shell.address.port))
    }

    /// Sends three truncated datagrams, then one good ping; returns the statistics once all
    /// four were handled (three dropped, one received).
    static func sendBadThenGood(to shell: SWIM.Shell) async throws -> SWIM.Shell.Statistics {
        let socket = try await UDPSocket.bind()
        defer { socket.close() }
        let target = try destination(shell)
        for _ in 0..<3 { try await socket.send(truncated, to: target) }
        let ping = SWIM.Packet(message: .ping(sequence: 9, source: "outsider", target: shell.id))
        try await socket.send(SWIM.WireCodec.encode(ping), to: target)
        try await waitUntil("three datagrams dropped and one received") {
            let statistics = await shell.statistics
            return statistics.datagramsDropped == 3 && statistics.datagramsReceived == 1
        }
        return await shell.statistics
    }

    @Test func undecodableUnlabelledDatagramsAreNotCountedAsAcceptedUnlabelled() async throws {
        try await withShells { group in
            let shell = try await group.start("labelled", logLevel: .critical) { $0.clusterLabel = "alpha" }
            let statistics = try await Self.sendBadThenGood(to: shell)
            #expect(statistics.unlabelledAccepted == 1, "only the good ping is unlabelled gossip accepted: \(statistics)")
        }
    }

    @Test func undecodablePlaintextIsNotCountedAsPlaintextAccepted() async throws {
        try await withShells { group in
            let key = try #require(GossipKey(bytes: [UInt8](repeating: 0x3C, count: 32)))
            let encryption = SWIM.GossipEncryption(keyring: GossipKeyring(primary: key), label: "test-cluster", verifyIncoming: false)
            let shell = try await group.start("migrating", encryption: encryption, logLevel: .critical)
            let statistics = try await Self.sendBadThenGood(to: shell)
            #expect(statistics.plaintextAccepted == 1, "only the good ping is plaintext accepted: \(statistics)")
            // A plaintext push-pull state that does not decode is not accepted either.
            let connection = try await FramedConnection.connect(host: shell.address.host, port: shell.address.port, timeout: .seconds(30))
            defer { connection.close() }
            try await connection.send(Frame(type: SWIM.Shell.pushPullFrameType, payload: Self.truncated))
            var frames = connection.frames().makeAsyncIterator()
            while try await frames.next() != nil {}
            #expect(await shell.statistics.plaintextAccepted == 1)
        }
    }
}
