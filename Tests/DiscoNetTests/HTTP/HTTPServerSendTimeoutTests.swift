#if canImport(Glibc)
import Glibc
#endif
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

/// The idle timeout and a response being sent: a client that keeps reading is never cut off,
/// one that stops reading does not hold its connection forever.
@Suite("HTTP server: sending to slow and stalled clients")
struct HTTPServerSendTimeoutTests {
    /// More than the loopback socket buffers hold, so most of it waits in the server's queue.
    static let body = [UInt8](repeating: UInt8(ascii: "x"), count: 32 * 1024 * 1024)

    @Test("a client reading a large response slowly, but steadily, gets all of it past the idle timeout")
    func slowSteadyReaderGetsTheWholeResponse() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = .seconds(1)
        try await withServer(configuration, handler: { _ in HTTPResponse(status: 200, body: .bytes(Self.body)) }) { server in
            let client = try connect(server)
            // A fixed receive buffer: one that grows (as loopback's does, to megabytes) lets the
            // kernel announce a wider window only after half of it was read, and the server's
            // next write waits that long.
            var size = Self.receiveBuffer
            setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            try client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            let started = ContinuousClock.now
            let received = try await BlockingWork.run("slow-reader") { () throws -> [UInt8] in
                try Self.readSlowly(client.fd, bodyLength: Self.body.count)
            }
            #expect(received.count == Self.body.count, "the response was cut off after \(received.count) body bytes")
            // The pace bounds the reader's speed, so this holds however loaded the machine is.
            #expect(ContinuousClock.now - started > configuration.idleTimeout * 3, "the response did not outlast the idle timeout")
        }
    }

    @Test("a client that stops reading a streamed response is closed after the idle timeout")
    func stalledReaderOfAStreamIsClosed() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = .milliseconds(200)
        let producerFailed = Atomic<Bool>(false)
        let responder = HTTPResponder { _ in
            HTTPResponse(status: 200, body: .stream { writer in
                do {
                    while true { try await writer.write([UInt8](repeating: 0x61, count: 64 * 1024)) }
                } catch {
                    producerFailed.store(true, ordering: .relaxed)
                    throw error
                }
            })
        }
        try await withServer(configuration, responder: responder) { server in
            let client = try connect(server)
            try client.send("GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
            try await waitUntil("the stalled connection to be closed") {
                server.openConnections == 0 && producerFailed.load(ordering: .relaxed)
            }
            withExtendedLifetime(client) {}
        }
    }

    @Test("a client that never reads a Connection: close response is closed after the idle timeout")
    func stalledReaderOfALastResponseIsClosed() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = .milliseconds(200)
        try await withServer(configuration, handler: { _ in HTTPResponse(status: 200, body: .bytes(Self.body)) }) { server in
            let client = try connect(server)
            try client.send("GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            try await waitUntil("the response to start") { await client.waitReadable(milliseconds: 100) }
            try await waitUntil("the stalled connection to be closed") { server.openConnections == 0 }
            withExtendedLifetime(client) {}
        }
    }

    /// The slow reader's receive buffer (the kernel doubles it).
    static let receiveBuffer: Int32 = 128 * 1024
    /// The slow reader's pace: 8 MiB a second, so the 32 MiB take four idle timeouts. The server
    /// can write again once the reader took the free space it waits for (a fraction of the
    /// socket buffers, a few hundred KiB): at this pace well within the idle timeout.
    static let bytesPerSecond = 8 * 1024 * 1024

    /// Reads a response head and `bodyLength` body bytes from `fd` at ``bytesPerSecond``, in
    /// steps of at most 64 KiB with short pauses; returns the body bytes read before the stream
    /// ended. The pace is kept by the clock, not by counting pauses: a reader the loaded machine
    /// held up catches up at once, as a steady client does, instead of falling ever further
    /// behind (a pause of 10 ms can last far longer, and with it the wait for the server's next write).
    private static func readSlowly(_ fd: Int32, bodyLength: Int) throws -> [UInt8] {
        var received: [UInt8] = []
        received.reserveCapacity(bodyLength + 1024)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var headLength: Int?
        let started = ContinuousClock.now
        while headLength.map({ received.count - $0 < bodyLength }) ?? true {
            let (seconds, attoseconds) = (ContinuousClock.now - started).components
            let due = chunk.count + Int((Double(seconds) + Double(attoseconds) / 1e18) * Double(bytesPerSecond))
            guard received.count < due else {
                usleep(10_000)
                continue
            }
            let wanted = min(chunk.count, due - received.count)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, wanted, 0) }
            if count <= 0 { break }
            received.append(contentsOf: chunk[0..<count])
            if headLength == nil, let end = received.firstRange(of: Array("\r\n\r\n".utf8)) { headLength = end.upperBound }
        }
        guard let headLength else { return [] }
        return Array(received[headLength...])
    }
}
