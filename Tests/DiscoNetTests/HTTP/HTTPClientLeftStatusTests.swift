import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
import Synchronization
import Testing

/// A request whose client leaves while it is being answered is counted and logged as 499
/// (nginx's "client closed request") by the shared middleware, not as what its cancelled
/// handler returned.
@Suite("HTTP middleware: a client that left is 499")
struct HTTPClientLeftStatusTests {
    /// Handlers that have started waiting.
    final class Started: Sendable {
        let count = Atomic<Int>(0)
    }

    /// Waits (as a long poll does) until its task is cancelled, then answers 503, as the node
    /// answers a write whose proposal was abandoned.
    private static func waitingResponder(_ started: Started) -> HTTPResponder {
        HTTPResponder { request in
            guard request.path == "/wait" else { return .text("ok") }
            started.count.add(1, ordering: .relaxed)
            try? await Task.sleep(for: .seconds(60))
            return .text("abandoned", status: 503)
        }
    }

    /// Before, the request was counted 503 and logged at warning for an answer nobody got.
    @Test func aRequestWhoseClientClosesIsCounted499AndLoggedAtInfo() async throws {
        let counts = HTTPStatusCounts()
        let sink = MemoryLogSink()
        let logger = Logger(label: "http", handler: LogfmtHandler(sink: sink))
        let started = Started()
        try await withServer(middleware: [HTTPRequestLogging(logger: logger), HTTPStatusCounting(into: counts)],
                             responder: Self.waitingResponder(started)) { server in
            do {
                let client = try connect(server)
                try client.send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
                try await waitUntil("the handler to wait") { started.count.load(ordering: .relaxed) == 1 }
                // Released at the end of this scope: closed.
            }
            try await waitUntil("the request to be counted") { !counts.snapshot.isEmpty }
            try await waitUntil("the request to be logged") { !sink.lines.isEmpty }
            // A request whose client stays is counted as answered.
            let (answered, _) = try await exchange(server, "GET /other HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(answered.status == 200)
        }
        #expect(counts.snapshot == [499: 1, 200: 1])
        let lines = sink.lines
        #expect(lines.first?.contains("GET /wait 499") == true, "\(lines)")
        #expect(lines.first?.contains("level=info") == true, "\(lines)")
        #expect(!lines.contains { $0.contains("level=warning") }, "\(lines)")
    }

    /// The server closing a connection itself (a shutdown whose grace period ran out) is not the
    /// client leaving: the cancelled handler's answer is counted as it is.
    @Test func aRequestTheServerAbandonsAtShutdownIsNot499() async throws {
        let counts = HTTPStatusCounts()
        let started = Started()
        let server = try await HTTPServer.start(middleware: [HTTPStatusCounting(into: counts)],
                                                responder: Self.waitingResponder(started))
        let client = try connect(server)
        try client.send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
        try await waitUntil("the handler to wait") { started.count.load(ordering: .relaxed) == 1 }
        // Returns once the handler task has returned (and the middleware counted).
        await server.shutdown(gracePeriod: .milliseconds(50))
        #expect(counts.snapshot == [503: 1])
        _ = client
    }
}
