import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

// MARK: - Telling the server's user of the answers it makes itself

/// ``HTTPServerConfiguration/onRefusal`` is told of each answer the server makes without a
/// handler (so that a proxy can count every request its clients were answered), and not of a
/// request whose handler began: that handler sees the failure on the body and answers for it.
@Suite("HTTP server: the answers it makes itself are reported", .timeLimit(.minutes(1)))
struct HTTPServerRefusalHookTests {
    final class Refusals: Sendable {
        private let seen = Mutex<[HTTPServerRefusal]>([])
        var all: [HTTPServerRefusal] { seen.withLock { $0 } }
        func add(_ refusal: HTTPServerRefusal) { seen.withLock { $0.append(refusal) } }
    }

    func configuration(_ refusals: Refusals) -> HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration()
        configuration.onRefusal = { refusals.add($0) }
        return configuration
    }

    @Test func aRequestItCannotReadIsReportedWithItsStatus() async throws {
        let refusals = Refusals()
        try await withServer(configuration(refusals)) { server in
            try await expectRejected(server, "GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n  continued\r\n\r\n", status: 400)
            try await expectRejected(server, "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n", status: 414)
            // A head read whole: its method is known.
            try await expectRejected(server, "PUT / HTTP/1.1\r\nHost: t\r\nExpect: something\r\n\r\n", status: 417)
        }
        #expect(refusals.all == [HTTPServerRefusal(status: 400), HTTPServerRefusal(status: 414), HTTPServerRefusal(status: 417, method: "PUT")])
    }

    @Test func aConnectionBeyondTheLimitIsReported() async throws {
        let refusals = Refusals()
        var configuration = configuration(refusals)
        configuration.maxConnections = 1
        try await withServer(configuration) { server in
            let first = try connect(server)
            try await waitUntil("the first connection to be open") { server.openConnections == 1 }
            let second = try connect(server)
            let response = try await second.readResponse()
            #expect(response.status == 503)
            _ = first
        }
        #expect(refusals.all == [HTTPServerRefusal(status: 503)])
    }

    /// The body breaks once the handler is reading it (it asked for the body: 100 Continue).
    @Test func aRequestWhoseHandlerBeganIsNotReported() async throws {
        let refusals = Refusals()
        try await withServer(configuration(refusals)) { server in
            let client = try connect(server)
            try client.send("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
            #expect(try await client.readResponse().status == 100)
            try client.send("zz\r\n")
            #expect(try await client.readResponse().status == 400)
        }
        #expect(refusals.all.isEmpty, "\(refusals.all)")
    }
}
