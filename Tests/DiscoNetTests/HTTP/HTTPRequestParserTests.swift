@testable import DiscoNet
import DiscoCore
import Testing

@Suite("HTTP request parser (pure)")
struct HTTPRequestParserTests {
    static let corpus: [String] = [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "\r\nGET /x?y=1 HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Pad:   v  \r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: 1\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        "GET / HTTP/1.1\nHost: a\n\n",
    ]

    @Test(arguments: corpus)
    func resultDoesNotDependOnSplitPoints(_ text: String) {
        let input = Array(text.utf8)
        let whole = HTTPRequestParser.parseAll(input, splits: [])
        let bytewise = HTTPRequestParser.parseAll(input, splits: Array(0..<input.count))
        #expect(whole == bytewise)
        var random = DeterministicRandom(seed: 7)
        for _ in 0..<20 {
            let splits = (0..<3).map { _ in Int(random.next() % UInt64(input.count + 1)) }.sorted()
            #expect(HTTPRequestParser.parseAll(input, splits: splits) == whole)
        }
        #expect(whole.consumed <= input.count)
    }

    @Test func parsesHeadersInOrderWithCaseInsensitiveLookup() throws {
        let outcome = HTTPRequestParser.parseAll(Array("GET /p?q=1 HTTP/1.1\r\nHost: h\r\nX-B: 2\r\nx-a: 1\r\nX-B: 3\r\n\r\n".utf8), splits: [])
        let head = try #require(outcome.requests.first?.head)
        #expect(head.method == "GET")
        #expect(head.target == "/p?q=1")
        #expect(head.headers.fields.map(\.name) == ["Host", "X-B", "x-a", "X-B"])
        #expect(head.headers["X-A"] == "1")
        #expect(head.headers.values(for: "x-b") == ["2", "3"])
    }

    @Test func chunkedBodyAndTrailersAreDecoded() throws {
        let outcome = HTTPRequestParser.parseAll(Array(Self.corpus[3].utf8), splits: [])
        let request = try #require(outcome.requests.first)
        #expect(String(decoding: request.body, as: UTF8.self) == "abc0123456789")
        #expect(request.trailers?["T"] == "1")
        #expect(outcome.error == nil)
    }

    @Test func incompleteInputConsumesNothingOfTheHead() {
        let outcome = HTTPRequestParser.parseAll(Array("GET / HTTP/1.1\r\nHost:".utf8), splits: [])
        #expect(outcome.consumed == 0)
        #expect(outcome.requests.isEmpty)
        #expect(outcome.error == nil)
    }

    @Test func errorsNameTheProblem() {
        func error(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> HTTPParseError? {
            HTTPRequestParser.parseAll(Array(text.utf8), splits: [], limits: limits).error
        }
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n")?.reason.contains("whitespace between header name 'Bad'") == true)
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n\r\n")?.reason.contains("bare CR") == true)
        #expect(error("GET / HTTP/1.1\r\n\r\n")?.reason == "missing Host header; HTTP/1.1 requests must carry exactly one")
        var small = HTTPParserLimits()
        small.maxRequestLineBytes = 8
        #expect(error("GET /long-path HTTP/1.1\r\n", limits: small)?.status == 414)
        small.maxHeaderBytes = 20
        small.maxRequestLineBytes = 100
        #expect(error("GET / HTTP/1.1\r\nHost: aaaaaaaaaaaa\r\n", limits: small)?.status == 431)
    }

    @Test func parserStaysFailedAfterAnError() {
        var parser = HTTPRequestParser()
        var events: [HTTPRequestParserEvent] = []
        let bad = Array("BAD@ / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        let good = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        #expect(throws: HTTPParseError.self) { try bad.withUnsafeBufferPointer { try parser.parse($0, into: &events) } }
        #expect(throws: HTTPParseError.self) { try good.withUnsafeBufferPointer { try parser.parse($0, into: &events) } }
    }
}

@Suite("HTTP response parser (pure)")
struct HTTPResponseParserTests {
    private func parse(_ text: String, method: String = "GET", closeAtEnd: Bool = false) throws -> (HTTPResponseHead?, [UInt8], Bool) {
        var parser = HTTPResponseParser(requestMethod: method)
        var events: [HTTPResponseParserEvent] = []
        let bytes = Array(text.utf8)
        _ = try bytes.withUnsafeBufferPointer { try parser.parse($0, into: &events) }
        if closeAtEnd { try parser.finish(into: &events) }
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        for event in events {
            if case .head(let value) = event { head = value }
            if case .body(let piece) = event { body += piece }
        }
        return (head, body, parser.isComplete)
    }

    @Test func sizedChunkedAndUntilCloseBodies() throws {
        let sized = try parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(sized.0?.status == 200 && sized.1 == Array("ok".utf8) && sized.2)
        let chunked = try parse("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n")
        #expect(chunked.1 == Array("ab".utf8) && chunked.2)
        let untilClose = try parse("HTTP/1.0 200 OK\r\n\r\nabc", closeAtEnd: true)
        #expect(untilClose.1 == Array("abc".utf8) && untilClose.2)
    }

    @Test func interimResponsesComeBeforeTheFinalHeadAndHeadHasNoBody() throws {
        let skipped = try parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
        #expect(skipped.0?.status == 204 && skipped.2)
        let head = try parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method: "HEAD")
        #expect(head.2 && head.1.isEmpty)
    }

    /// A read-until-close body over the limit: the bytes within the limit are handed on, then the
    /// error, however the input is split (whole, it was the error alone; byte by byte, the first
    /// 8 bytes and then the error).
    @Test func aReadUntilCloseBodyOverTheLimitHandsOnTheSameBytesHoweverSplit() {
        let limits = HTTPParserLimits(maxBodyBytes: 8)
        let bytes = Array("HTTP/1.0 200 OK\r\n\r\n0123456789abcdef".utf8)
        func feed(inPiecesOf size: Int) -> (body: [UInt8], error: HTTPParseError?) {
            var parser = HTTPResponseParser(requestMethod: "GET", limits: limits)
            var events: [HTTPResponseParserEvent] = []
            var pending: [UInt8] = []
            var body: [UInt8] = []
            var failure: HTTPParseError?
            feeding: for start in stride(from: 0, to: bytes.count, by: size) {
                pending += bytes[start..<min(start + size, bytes.count)]
                do {
                    let consumed = try pending.withUnsafeBufferPointer { buffer throws(HTTPParseError) in try parser.parse(buffer, into: &events) }
                    pending.removeFirst(consumed)
                } catch {
                    failure = error
                    break feeding
                }
            }
            for case .body(let piece) in events { body += piece }
            return (body, failure)
        }
        let whole = feed(inPiecesOf: bytes.count)
        let bytewise = feed(inPiecesOf: 1)
        #expect(whole.error?.status == 413 && bytewise.error?.status == 413)
        #expect(whole.body == Array("01234567".utf8), "whole: \(whole.body)")
        #expect(bytewise.body == whole.body)
    }

    /// A head of a few short fields over the field limit is refused naming that limit, not a
    /// byte size it does not exceed; the same for a trailer section.
    @Test func tooManyFieldsNameTheFieldLimit() {
        let limits = HTTPParserLimits(maxHeaderCount: 2)
        func failure(_ text: String) -> String? {
            var parser = HTTPResponseParser(requestMethod: "GET", limits: limits)
            var events: [HTTPResponseParserEvent] = []
            do {
                _ = try Array(text.utf8).withUnsafeBufferPointer { try parser.parse($0, into: &events) }
                return nil
            } catch let error as HTTPParseError {
                return error.reason
            } catch {
                return "\(error)"
            }
        }
        let head = failure("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 0\r\n\r\n")
        #expect(head == "response header section has more than 2 fields", "\(head ?? "accepted")")
        let trailers = failure("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
        #expect(trailers == "trailer section has more than 2 fields", "\(trailers ?? "accepted")")
    }

    @Test func truncatedSizedBodyIsAnError() {
        #expect(throws: HTTPParseError.self) { try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", closeAtEnd: true) }
    }
}

@Suite("Event loop timer queue")
struct TimerQueueTests {
    @Test func popsDueTimersInDeadlineOrderAndSkipsCancelled() {
        var queue = TimerQueue()
        var fired: [Int] = []
        let box = FiredBox()
        for (deadline, label) in [(30, 3), (10, 1), (20, 2), (40, 4)] {
            let id = queue.schedule(at: UInt64(deadline)) { box.values.append(label) }
            if label == 2 { queue.cancel(id) }
        }
        for action in queue.popDue(now: 35) { action() }
        fired = box.values
        #expect(fired == [1, 3])
        #expect(queue.nextDeadline == 40)
    }

    /// A deadline per request, cancelled as soon as the request is answered: cancelled entries
    /// must not pile up (each holds what its action captures) while the live ones still fire.
    @Test func timersCancelledLongBeforeTheyAreDueDoNotPileUp() {
        var queue = TimerQueue()
        let box = FiredBox()
        var live: [Int] = []
        for request in 0..<20_000 {
            let id = queue.schedule(at: UInt64(1_000_000 + request)) { box.values.append(request) }
            if request % 5_000 == 0 { live.append(request) } else { queue.cancel(id) }
            #expect(queue.storedCount <= 2 * TimerQueue.compactionFloor + 2 * live.count + 2)
        }
        for action in queue.popDue(now: 2_000_000) { action() }
        #expect(box.values == live)
        #expect(queue.isEmpty)
    }

    private final class FiredBox { var values: [Int] = [] }
}
