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
        configuration.idleTimeout = .milliseconds(500)
        try await withServer(configuration, handler: { _ in HTTPResponse(status: 200, body: .bytes(Self.body)) }) { server in
            let client = try connect(server)
            try client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            // 128 KiB every 10 ms: a few seconds in all, never a pause near the idle timeout.
            let received = try await BlockingWork.run("slow-reader") { () throws -> [UInt8] in
                try Self.readSlowly(client.fd, bodyLength: Self.body.count)
            }
            #expect(received.count == Self.body.count, "the response was cut off after \(received.count) body bytes")
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

    /// Reads a response head and `bodyLength` body bytes from `fd` in small steps with short
    /// pauses; returns the body bytes read before the stream ended.
    private static func readSlowly(_ fd: Int32, bodyLength: Int) throws -> [UInt8] {
        var received: [UInt8] = []
        received.reserveCapacity(bodyLength + 1024)
        var chunk = [UInt8](repeating: 0, count: 128 * 1024)
        var headLength: Int?
        while headLength.map({ received.count - $0 < bodyLength }) ?? true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received.append(contentsOf: chunk[0..<count])
            if headLength == nil, let end = received.firstRange(of: Array("\r\n\r\n".utf8)) { headLength = end.upperBound }
            usleep(10_000)
        }
        guard let headLength else { return [] }
        return Array(received[headLength...])
    }
}
