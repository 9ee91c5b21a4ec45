import DiscoCore
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - Logging of dropped datagrams and push-pull requests

/// Each bad datagram or push-pull request costs its sender next to nothing: the member's log
/// must not grow with every one of them.
@Suite struct DroppedTrafficLogTests {
    /// Sends `frame` on a new connection to `shell`'s push-pull port and reads until the member
    /// closes it (after it has decided, and logged, what to do with the frame).
    static func sendAndWaitForClose(_ frame: Frame, to shell: SWIM.Shell) async throws {
        let connection = try await FramedConnection.connect(host: shell.address.host, port: shell.address.port, timeout: .seconds(30))
        defer { connection.close() }
        try await connection.send(frame)
        var frames = connection.frames().makeAsyncIterator()
        while try await frames.next() != nil {}
    }

    /// Twenty requests of each kind dropped unread (a frame of another type, a state that does
    /// not decode, a sealed state to a member without a key) are logged at most once per kind
    /// every 10 seconds, not once per request.
    @Test func droppedRequestsAreLoggedAtMostOncePerKindAndInterval() async throws {
        try await withShells { group in
            let logs = RecordingLogHandler()
            let began = ContinuousClock.now
            let shell = try await group.start("target") { configuration in
                configuration.logger = Logger(label: "swim", level: .info, handler: logs)
            }
            let kinds: [(frame: Frame, message: String)] = [
                (Frame(type: 0x60, payload: [0]), "unexpected frame on the push-pull port"),
                (Frame(type: SWIM.Shell.pushPullFrameType, payload: [1, 1]), "dropped a push-pull state that does not decode"),
                (Frame(type: SWIM.Shell.pushPullFrameType, payload: [SWIM.GossipSealer.version] + [UInt8](repeating: 7, count: 40)),
                 "refused a push-pull state: sealed with a gossip key"),
            ]
            for kind in kinds {
                for _ in 0..<20 { try await Self.sendAndWaitForClose(kind.frame, to: shell) }
            }
            // One line per kind and started 10 seconds, however slow the machine.
            let allowed = 1 + Int((ContinuousClock.now - began) / .seconds(10))
            for kind in kinds {
                let lines = logs.records(at: .warning, containing: kind.message)
                #expect(!lines.isEmpty, "\(kind.message) never logged")
                #expect(lines.count <= allowed, "\(lines.count) lines \"\(kind.message)\" for 20 requests (at most \(allowed))")
            }
        }
    }

    /// Datagrams that are no SWIM packet (here: sealed, to a member without a key) are logged at
    /// most once every 10 seconds, as README says of dropped gossip: two of them more than a
    /// second apart give one line, not two.
    @Test func droppedDatagramsAreLoggedAtMostOnceEveryTenSeconds() async throws {
        try await withShells { group in
            let logs = RecordingLogHandler()
            let began = ContinuousClock.now
            let shell = try await group.start("keyless") { configuration in
                configuration.logger = Logger(label: "swim", level: .info, handler: logs)
            }
            let socket = try await UDPSocket.bind()
            defer { socket.close() }
            let target = try #require(SocketAddress(numericHost: shell.address.host, port: shell.address.port))
            let sealed = [SWIM.GossipSealer.version] + [UInt8](repeating: 7, count: 40)
            try await socket.send(sealed, to: target)
            try await waitUntil("the first datagram dropped") { await shell.statistics.datagramsDropped == 1 }
            // The second comes well after the first: time must pass for a rate limit to show.
            let first = ContinuousClock.now
            try await waitUntil("1.5 seconds to pass", pollEvery: .milliseconds(100)) { ContinuousClock.now - first >= .milliseconds(1500) }
            try await socket.send(sealed, to: target)
            try await waitUntil("the second datagram dropped") { await shell.statistics.datagramsDropped == 2 }
            let allowed = 1 + Int((ContinuousClock.now - began) / .seconds(10))
            let lines = logs.records(at: .warning, containing: "dropped a datagram")
            #expect(!lines.isEmpty)
            #expect(lines.count <= allowed, "\(lines.count) lines for 2 datagrams (at most \(allowed))")
        }
    }
}
