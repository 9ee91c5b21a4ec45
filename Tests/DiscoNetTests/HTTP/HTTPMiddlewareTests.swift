import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
import Synchronization
import Testing

/// Records the order in which middleware and handler ran.
final class Trace: Sendable {
    private let steps = Mutex<[String]>([])
    func add(_ step: String) { steps.withLock { $0.append(step) } }
    var all: [String] { steps.withLock { $0 } }
}

/// A middleware that marks its way in and out in a trace, and adds a response header.
struct Marking: HTTPMiddleware {
    let name: String
    let trace: Trace

    func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        trace.add("\(name) in")
        var response = try await next(request)
        trace.add("\(name) out")
        response.headers.add(name: "X-Via", value: name)
        return response
    }
}

/// The guard example: requests without the right `X-Key` are answered 401 here and never reach
/// the handler.
struct RequireKey: HTTPMiddleware {
    let key: String

    func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        guard request.headers["X-Key"] == key else {
            return .text("missing or wrong X-Key", status: 401)
        }
        return try await next(request)
    }
}

@Suite("HTTP middleware: order, guards, logging, metrics")
struct HTTPMiddlewareTests {
    @Test func middlewareRunsOutermostFirstAndUnwindsInReverse() async throws {
        let trace = Trace()
        let handler: HTTPHandler = { _ in
            trace.add("handler")
            return .text("ok")
        }
        let server = try await HTTPServer.start(
            middleware: [Marking(name: "A", trace: trace), Marking(name: "B", trace: trace)], handler: handler)
        let (response, _) = try await exchange(server, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        await server.shutdown()
        #expect(trace.all == ["A in", "B in", "handler", "B out", "A out"])
        // B added its header first, on the way out.
        #expect(response.headers.filter { $0.name == "X-Via" }.map(\.value) == ["B", "A"])
    }

    @Test func aGuardAnswersWithoutCallingTheHandler() async throws {
        let calls = Atomic<Int>(0)
        let handler: HTTPHandler = { request in
            calls.add(1, ordering: .relaxed)
            return .text("secret for \(request.bodyText)")
        }
        let server = try await HTTPServer.start(middleware: [RequireKey(key: "k1")], handler: handler)
        let (refused, _) = try await exchange(server, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nme")
        let (wrong, _) = try await exchange(server, "POST / HTTP/1.1\r\nHost: t\r\nX-Key: k2\r\nContent-Length: 2\r\n\r\nme")
        let (allowed, _) = try await exchange(server, "POST / HTTP/1.1\r\nHost: t\r\nX-Key: k1\r\nContent-Length: 2\r\n\r\nme")
        await server.shutdown()
        #expect(refused.status == 401)
        #expect(wrong.status == 401)
        #expect(allowed.bodyText == "secret for me")
        #expect(calls.load(ordering: .relaxed) == 1)
    }

    @Test func statusCountingSeesAnswersAndThrownErrors() async throws {
        let counts = HTTPStatusCounts()
        let responder = HTTPResponder { request in
            switch request.path {
            case "/missing": return .text("no", status: 404)
            case "/big": return .text("\(try await request.body.collect(upTo: 4).count)")
            case "/broken": throw Broken()
            default: return .text("fine")
            }
        }
        try await withServer(middleware: [HTTPStatusCounting(into: counts)], responder: responder) { server in
            for request in ["GET /a", "GET /b", "GET /missing", "GET /broken"] {
                let (response, _) = try await exchange(server, "\(request) HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(response.status == counted(request))
            }
            let (tooBig, _) = try await exchange(server, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n12345")
            #expect(tooBig.status == 413)
        }
        #expect(counts.snapshot == [200: 2, 404: 1, 500: 1, 413: 1])
    }

    private struct Broken: Error {}

    private func counted(_ request: String) -> Int {
        switch request {
        case "GET /missing": 404
        case "GET /broken": 500
        default: 200
        }
    }

    @Test func requestLoggingWritesOneLinePerRequest() async throws {
        let sink = MemoryLogSink()
        let logger = Logger(label: "http", handler: LogfmtHandler(sink: sink))
        let responder = HTTPResponder { request in
            request.path == "/fail" ? .text("down", status: 503) : .text("up")
        }
        try await withServer(middleware: [HTTPRequestLogging(logger: logger)], responder: responder) { server in
            _ = try await exchange(server, "GET /ok?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            _ = try await exchange(server, "DELETE /fail HTTP/1.1\r\nHost: t\r\n\r\n")
        }
        let lines = sink.lines
        #expect(lines.count == 2)
        #expect(lines.first?.contains("GET /ok?x=1 200") == true)
        #expect(lines.first?.contains("level=info") == true)
        #expect(lines.last?.contains("DELETE /fail 503") == true)
        #expect(lines.last?.contains("level=warning") == true)
        #expect(lines.allSatisfy { $0.contains("duration_us=") && $0.contains("peer=127.0.0.1:") })
    }
}
