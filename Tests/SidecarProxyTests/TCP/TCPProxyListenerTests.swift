import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Testing

/// A `-tcp-proxy` listener's two limits: `max-conns` (connections open at once) and `rate=` with
/// `burst=` (new connections over time).
@Suite("Sidecar proxy: TCP listener limits")
struct TCPProxyListenerTests {
    /// A connection refused because every `max-conns` slot was taken was also charged to the
    /// connection rate, so a flood above max-conns used up the rate's burst and, once slots
    /// freed, legitimate connections were refused by the rate. (nginx's stream module has no
    /// connection rate to compare with; its HTTP `limit_req` runs before `limit_conn`, which does
    /// not refund it, but there a request refused by `limit_conn` was at least admitted by the
    /// rate: here refusing for max-conns costs nothing, so it charges nothing.)
    @Test func connectionsRefusedForMaxConnsDoNotUseTheRate() async throws {
        let (echo, echoTask) = try await PassThroughTests.tcpEcho()
        // One connection at a time; three new connections at once (burst 2), then one a minute.
        let configuration = tcpOnlyConfiguration(upstream: echo.localAddress, maxConnections: 1,
                                                 rate: LimitRate(requests: 1, per: .perMinute), burst: 2)
        try await withProxy(configuration) { proxy in
            let listener = try #require(proxy.tcpListeners.first)
            let held = try await TCPConnection.connect(to: listener.localAddress)
            try await held.write([1])
            #expect(try await held.read() == [1])
            // A flood while the one slot is taken: each is closed by the proxy.
            for attempt in 0..<4 {
                let refused = try await TCPConnection.connect(to: listener.localAddress)
                #expect(try await refused.read() == nil, "attempt \(attempt)")
                refused.close()
            }
            held.close()
            try await waitUntil("the held connection to be released") { listener.openConnections == 0 }
            // The slot is free and only one connection was ever admitted: the burst has room.
            let next = try await TCPConnection.connect(to: listener.localAddress)
            try await next.write([2, 3])
            #expect(try await PassThroughTests.read(2, from: next) == [2, 3])
            next.close()
        }
        echo.close()
        echoTask.cancel()
        await echoTask.value
    }

    /// The rate still holds: beyond the burst, connections are refused even with free slots,
    /// and a refused one takes no slot.
    @Test func connectionsBeyondTheBurstAreRefusedAndTakeNoSlot() async throws {
        let (echo, echoTask) = try await PassThroughTests.tcpEcho()
        let configuration = tcpOnlyConfiguration(upstream: echo.localAddress, maxConnections: 10,
                                                 rate: LimitRate(requests: 1, per: .perMinute), burst: 1)
        try await withProxy(configuration) { proxy in
            let listener = try #require(proxy.tcpListeners.first)
            var open: [TCPConnection] = []
            for round in 0..<2 {
                let connection = try await TCPConnection.connect(to: listener.localAddress)
                try await connection.write([UInt8(round)])
                #expect(try await connection.read() == [UInt8(round)])
                open.append(connection)
            }
            let refused = try await TCPConnection.connect(to: listener.localAddress)
            #expect(try await refused.read() == nil)
            refused.close()
            #expect(listener.openConnections == 2)
            for connection in open { connection.close() }
        }
        echo.close()
        echoTask.cancel()
        await echoTask.value
    }
}
