import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

/// A spliced connection (TCP pass-through, WebSocket) that passes no bytes either way for its
/// idle timeout is closed, both sides, and its max-conns slot freed: a peer that vanished without
/// a FIN used to hold the slot and both descriptors for ever. One that keeps talking stays open.
@Suite("Sidecar proxy: idle timeouts of spliced connections")
struct SpliceIdleTimeoutTests {
    /// The idle timeout of the connections that keep talking every 100 ms: fifty paces, so that
    /// a test task starved of a CPU for a while (two cores, every suite in parallel; stalls of
    /// 3 s were seen) is not taken for a silent peer.
    static let talkingIdleTimeout = Duration.seconds(5)
    /// How long they talk: past the latest moment a silent one would be closed (1.25 timeouts).
    static let talkingFor = talkingIdleTimeout * 2

    /// A TCP pass-through listener (max-conns=1) in front of `upstream`, idle timeout `idle`.
    static func tcpConfiguration(upstream: SocketAddress, idle: Duration) -> ProxyConfiguration {
        tcpOnlyConfiguration(upstream: upstream, maxConnections: 1, idleTimeout: idle)
    }

    /// Reads until the peer closes (or resets) the connection; the bytes that came before.
    @Sendable static func readToEnd(_ connection: TCPConnection) async -> [UInt8] {
        var bytes: [UInt8] = []
        while let piece = try? await connection.read() { bytes += piece }
        return bytes
    }

    /// Sends a byte every 100 ms and reads it back, until `elapsed` has passed: the pacing is
    /// what is under test, so it sleeps. Returns the rounds echoed.
    static func keepTalking(on connection: TCPConnection, for elapsed: Duration) async throws -> Int {
        let end = ContinuousClock.now + elapsed
        var rounds = 0
        while ContinuousClock.now < end {
            try await Task.sleep(for: .milliseconds(100))
            let byte = UInt8(truncatingIfNeeded: rounds)
            try await connection.write([byte])
            #expect(try await PassThroughTests.read(1, from: connection) == [byte], "round \(rounds)")
            rounds += 1
        }
        return rounds
    }

    @Test func anIdleTCPConnectionIsClosedAndItsSlotFreed() async throws {
        let (echo, echoTask) = try await PassThroughTests.tcpEcho()
        try await withProxy(Self.tcpConfiguration(upstream: echo.localAddress, idle: .seconds(1))) { proxy in
            let listener = try #require(proxy.tcpListeners.first)
            // 1 s: the first bytes must get through before the connection counts as idle, also
            // when a loaded machine runs this task late.
            let connection = try await TCPConnection.connect(to: listener.localAddress)
            try await connection.write([1, 2, 3])
            #expect(try await PassThroughTests.read(3, from: connection) == [1, 2, 3])
            // Then silence both ways: the proxy closes the client's side.
            let rest = try await outcome(of: "the proxy to close the idle connection", within: .seconds(30)) {
                await Self.readToEnd(connection)
            }
            #expect(try rest.get() == [])
            connection.close()
            try await waitUntil("the slot to be freed") { listener.openConnections == 0 }
            #expect(proxy.metrics.spliceIdleClosedCount(.tcp) == 1)
            #expect(proxy.metrics.prometheusText(openHTTPConnections: 0, health: [], process: false)
                .contains(#"disco_proxy_splice_idle_closed_total{kind="tcp"} 1"#))
            // max-conns=1: a new connection is spliced only because the idle one let go.
            let next = try await TCPConnection.connect(to: listener.localAddress)
            try await next.write([4, 5, 6])
            #expect(try await PassThroughTests.read(3, from: next) == [4, 5, 6])
            next.close()
        }
        echo.close()
        echoTask.cancel()
        await echoTask.value
    }

    @Test func aTCPConnectionThatKeepsTalkingStaysOpen() async throws {
        let (echo, echoTask) = try await PassThroughTests.tcpEcho()
        let idle = Self.talkingIdleTimeout
        try await withProxy(Self.tcpConfiguration(upstream: echo.localAddress, idle: idle)) { proxy in
            let listener = try #require(proxy.tcpListeners.first)
            let connection = try await TCPConnection.connect(to: listener.localAddress)
            let rounds = try await Self.keepTalking(on: connection, for: Self.talkingFor)
            #expect(rounds > 4)
            #expect(proxy.metrics.spliceIdleClosedCount(.tcp) == 0)
            #expect(listener.openConnections == 1)
            connection.close()
            try await waitUntil("the slot to be freed") { listener.openConnections == 0 }
        }
        echo.close()
        echoTask.cancel()
        await echoTask.value
    }

    /// Bytes one way only (the upstream never answers) are activity too.
    @Test func bytesInOneDirectionKeepATCPConnectionOpen() async throws {
        let sink = try await TCPListener.bind()
        let sinkTask = Task {
            await withDiscardingTaskGroup { group in
                while let connection = try? await sink.accept() {
                    group.addTask {
                        while (try? await connection.read()) != nil {}
                        connection.close()
                    }
                }
                group.cancelAll()
            }
        }
        let idle = Self.talkingIdleTimeout
        try await withProxy(Self.tcpConfiguration(upstream: sink.localAddress, idle: idle)) { proxy in
            let listener = try #require(proxy.tcpListeners.first)
            let connection = try await TCPConnection.connect(to: listener.localAddress)
            let end = ContinuousClock.now + Self.talkingFor
            while ContinuousClock.now < end {
                try await Task.sleep(for: .milliseconds(100))
                try await connection.write([7])
            }
            #expect(proxy.metrics.spliceIdleClosedCount(.tcp) == 0)
            #expect(listener.openConnections == 1)
            connection.close()
        }
        sink.close()
        sinkTask.cancel()
        await sinkTask.value
    }

    @Test func anIdleWebSocketIsClosedAndOneThatKeepsTalkingIsNot() async throws {
        let upstream = try await PassThroughTests.webSocketEcho()
        var configuration = proxyConfiguration([("ws", upstream.localAddress)])
        configuration.webSocketIdleTimeout = Self.talkingIdleTimeout
        try await withProxy(configuration) { proxy in
            let client = HTTPClient()
            func open() async throws -> HTTPUpgradedConnection {
                let result = try await client.upgrade(HTTPClientRequest(url: proxy.url + "/ws", headers: [
                    "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZQ==", "Sec-WebSocket-Version": "13",
                ]))
                #expect(result.response.status == 101)
                let upgraded = try #require(result.upgraded)
                #expect(upgraded.initialBytes.isEmpty)
                return upgraded
            }
            let talking = try await open()
            let quiet = try await open()
            try await quiet.connection.write([0x89, 0x80, 1, 2, 3, 4])
            #expect(try await PassThroughTests.read(6, from: quiet.connection) == [0x89, 0x80, 1, 2, 3, 4])
            let closed = Task { await Self.readToEnd(quiet.connection) }
            let rounds = try await Self.keepTalking(on: talking.connection, for: Self.talkingFor)
            #expect(rounds > 4)
            let rest = try await outcome(of: "the proxy to close the idle WebSocket", within: .seconds(30)) { await closed.value }
            #expect(try rest.get() == [])
            #expect(proxy.metrics.spliceIdleClosedCount(.webSocket) == 1)
            talking.connection.close()
            quiet.connection.close()
            await client.shutdown()
        }
        await upstream.shutdown(gracePeriod: .seconds(1))
    }
}
