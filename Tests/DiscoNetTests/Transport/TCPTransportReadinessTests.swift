@testable import DiscoNet
import DiscoTestKit
import Testing

/// A TCP transport registers its socket edge-triggered and keeps the level itself: its handler
/// must be told exactly what level-triggered epoll would tell it, including readiness no new
/// edge will announce.
@Suite("TCP transport: level-triggered readiness over edge-triggered epoll")
struct TCPTransportReadinessTests {
    @Test func bytesLeftUnreadAreReportedAgainWithoutANewEdge() async throws {
        try await withTransportPair { transport, peer, handler in
            // One edge for all ten bytes; the handler takes four per report.
            try peer.sendAll(Array("0123456789".utf8))
            try await handler.configure(on: transport, readSize: 4, interest: .read)
            try await waitUntil("all ten bytes read, four at a time") { await handler.snapshot(on: transport).bytes.count == 10 }
            let seen = await handler.snapshot(on: transport)
            #expect(String(decoding: seen.bytes, as: UTF8.self) == "0123456789")
            #expect(seen.reads >= 3)
        }
    }

    @Test func interestSetOnASocketAlreadyHoldingBytesIsReported() async throws {
        try await withTransportPair { transport, peer, handler in
            try await handler.configure(on: transport, readSize: 64, interest: [])
            try peer.sendAll(Array("early".utf8))
            // The edge comes and goes while nobody listens.
            try await waitUntil("the transport saw the edge") { await handler.edgeSeen(on: transport) }
            try await handler.configure(on: transport, readSize: 64, interest: .read)
            try await waitUntil("the early bytes read") { await handler.snapshot(on: transport).bytes == Array("early".utf8) }
        }
    }

    @Test func bytesAndTheEndArrivingTogetherAreBothRead() async throws {
        try await withTransportPair { transport, peer, handler in
            try peer.sendAll(Array("last words".utf8))
            peer.shutdownWrite()
            try await handler.configure(on: transport, readSize: 4096, interest: .read)
            try await waitUntil("the bytes and then the end read") { await handler.snapshot(on: transport).ended }
            #expect(await handler.snapshot(on: transport).bytes == Array("last words".utf8))
        }
    }

    /// What an idle pooled connection is asked before reuse: nothing arrived since the last
    /// short read is false; bytes or the peer's FIN arriving while nobody reads make it true,
    /// with no read and no system call.
    @Test(arguments: [false, true])
    func inputArrivingWhileNobodyReadsIsKnownWithoutARead(finish: Bool) async throws {
        try await withTransportPair { transport, peer, handler in
            try peer.sendAll(Array("answer".utf8))
            try await handler.configure(on: transport, readSize: 64, interest: .read)
            try await waitUntil("the answer read") { await handler.snapshot(on: transport).bytes == Array("answer".utf8) }
            // The read came back short: nothing is owed, nothing more has arrived.
            try await handler.configure(on: transport, readSize: 64, interest: [])
            #expect(await transport.loop.onLoop { transport.mayHaveUnreadInput } == false)
            if finish { peer.shutdownWrite() } else { try peer.sendAll(Array("stray".utf8)) }
            try await waitUntil("the transport knows input arrived") { await transport.loop.onLoop { transport.mayHaveUnreadInput } }
            #expect(await handler.snapshot(on: transport).bytes == Array("answer".utf8))
        }
    }

    @Test func aLevelTriggeredTransportStillReportsItsBytes() async throws {
        try await withTransportPair { transport, peer, handler in
            await transport.loop.onLoop { transport.useLevelTriggered() }
            try peer.sendAll(Array("plain".utf8))
            try await handler.configure(on: transport, readSize: 2, interest: .read)
            try await waitUntil("all five bytes read") { await handler.snapshot(on: transport).bytes == Array("plain".utf8) }
        }
    }
}

// MARK: - Support

/// Records what a transport reports, reading `readSize` bytes (at most one read) per report.
private final class RecordingHandler: ByteStreamTransportHandler, @unchecked Sendable {
    // @unchecked Sendable: every member is touched on the transport's loop only (the tests go
    // through `loop.run`).
    struct Snapshot: Sendable {
        var bytes: [UInt8] = []
        var reads = 0
        var ended = false
    }
    private var seen = Snapshot()
    private var readSize = 0
    private var reports = 0

    func transportReady(_ events: TransportEvents) {
        reports += 1
        guard events.contains(.readable), readSize > 0, !seen.ended else { return }
        var buffer = [UInt8](repeating: 0, count: readSize)
        let transport = current
        switch buffer.withUnsafeMutableBytes({ transport?.read(into: $0) }) {
        case .read(let count)?:
            seen.reads += 1
            seen.bytes += buffer[..<count]
        case .endOfStream?:
            seen.ended = true
            transport?.setInterest([])
        default:
            break
        }
    }

    private var current: TCPTransport?

    func configure(on transport: TCPTransport, readSize: Int, interest: TransportInterest) async throws {
        await transport.loop.onLoop {
            self.current = transport
            self.readSize = readSize
            transport.setHandler(self)
            transport.setInterest(interest)
        }
    }

    func snapshot(on transport: TCPTransport) async -> Snapshot {
        await transport.loop.onLoop { self.seen }
    }

    /// Whether the transport has recorded a readable edge (without telling this handler).
    func edgeSeen(on transport: TCPTransport) async -> Bool {
        await transport.loop.onLoop { transport.mayBeReadable }
    }
}

/// A connected pair on loopback: the accepted side as a ``TCPTransport`` on a loop, the other
/// as a plain socket the test writes to.
private func withTransportPair(_ body: (TCPTransport, Socket, RecordingHandler) async throws -> Void) async throws {
    let (listener, address) = try Socket.bound(tcp: true, to: try #require(SocketAddress(numericHost: "127.0.0.1", port: 0)), backlog: 4)
    defer { listener.close() }
    let peer = try Socket.tcp(for: address)
    defer { peer.close() }
    _ = try peer.connect(to: address)
    var accepted: Socket?
    try await waitUntil("the connection accepted") {
        accepted = try listener.accept()
        return accepted != nil
    }
    let loop = EventLoopGroup.shared.next()
    let transport = TCPTransport(socket: try #require(accepted), loop: loop)
    defer { loop.execute { transport.close() } }
    try await waitUntil("the peer connected") { (try? peer.remoteAddress()) != nil }
    try await body(transport, peer, RecordingHandler())
}

extension Socket {
    /// Sends all of `bytes` (small: the loopback buffer takes them at once).
    fileprivate func sendAll(_ bytes: [UInt8]) throws {
        let sent = try bytes.withUnsafeBytes { try send($0) }
        #expect(sent == bytes.count)
    }
}

extension EventLoop {
    /// Runs `body` on the loop and waits for it.
    fileprivate func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in execute { continuation.resume(returning: body()) } }
    }
}
