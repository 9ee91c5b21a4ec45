import DiscoCore
import DiscoNet
import Testing

// MARK: - Heads built from pieces, valid and not

/// Builds request heads from pieces the recogniser must tell apart: valid simple heads, and
/// every way of being not simple or not valid, sometimes cut short or with a byte changed.
struct HeadGenerator {
    var random: DeterministicRandom

    // Each piece is mostly one of the simple forms, sometimes one that is not.
    static let methods = (simple: ["GET", "HEAD", "DELETE", "OPTIONS", "POST", "M-SEARCH"], other: ["", "G T", "GET\t", "GÉT"])
    static let targets = (simple: ["/", "/a?b=c", "/x/%20y?z", "/.sidecar/ready", "/?"], other: ["*", "http://h/p", "/a b", "/a\u{7F}", "", "/é"])
    static let versions = (simple: ["HTTP/1.1"], other: ["HTTP/1.0", "HTTP/2.0", "HTTP/1.10", "http/1.1", "HTTP/1.1 ", "HTTP/1."])
    static let fields = (
        simple: ["X-A: 1", "X-Empty:", "X-Tab:\tv\tw\t", "Accept: */*", "Connection: close", "Connection: keep-alive, Close",
                 "connection: keep-alive", "X-Forwarded-For: 10.0.0.1", "User-Agent: wrk/4.2 (linux)", "X-Sp:   padded   "],
        other: ["Content-Length: 0", "content-length: 5", "Transfer-Encoding: chunked", "Expect: 100-continue", " folded", "\tfolded",
                "Bad Name: x", "X-High: é", "X-Ctl: a\u{01}b", "X-Del: \u{7F}", ":novalue", "NoColon", "Host: second"]
    )
    static let lineEnds = (simple: ["\r\n"], other: ["\n", "\r", "\r\r\n", " \r\n"])

    mutating func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }
    mutating func pick<T>(_ list: [T]) -> T { list[Int(random.next() % UInt64(list.count))] }
    mutating func pick(_ pieces: (simple: [String], other: [String])) -> String {
        chance(4) ? pick(pieces.other) : pick(pieces.simple)
    }

    mutating func next() -> [UInt8] {
        var text = chance(2) ? "\r\n" : ""
        text += "\(pick(Self.methods)) \(pick(Self.targets)) \(pick(Self.versions))\(pick(Self.lineEnds))"
        // Most heads carry one Host; some none.
        var lines = chance(95) ? [pick(["Host: h.test", "host:b.test:8080", "HOST:  c  "])] : []
        for _ in 0..<Int(random.next() % 6) { lines.insert(pick(Self.fields), at: Int(random.next() % UInt64(lines.count + 1))) }
        for line in lines { text += line + pick(Self.lineEnds) }
        text += pick(Self.lineEnds)
        if chance(20) { text += "GET /next HTTP/1.1\r\nHost: n\r\n\r\n" }
        var bytes = Array(text.utf8)
        if chance(5), !bytes.isEmpty { bytes.removeLast(Int(random.next() % UInt64(bytes.count))) }
        if chance(5), !bytes.isEmpty { bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next()) }
        return bytes
    }
}

// MARK: - Tests

@Suite("HTTP: simple request heads recognised in place")
struct HTTPSimpleRequestHeadTests {
    private func recognise(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> (HTTPSimpleRequestHead, [String])? {
        let bytes = Array(text.utf8)
        var spans: [HTTPFieldSpan] = []
        guard let head = bytes.withUnsafeBufferPointer({ HTTPSimpleRequestHead.recognise($0, limits: limits, fields: &spans) }) else { return nil }
        let fields = spans.map { String(decoding: bytes[$0.name], as: UTF8.self) + "=" + String(decoding: bytes[$0.value], as: UTF8.self) }
        return (head, fields)
    }

    @Test func recognisesTheCommonHeadWithItsFieldsTrimmed() throws {
        let text = "GET /a?b=1 HTTP/1.1\r\nHost: h.test\r\nX-Pad: \t v w \t\r\nX-Empty:\r\n\r\nGET /next"
        let (head, fields) = try #require(recognise(text))
        #expect(head.length == text.utf8.count - "GET /next".utf8.count)
        #expect(head.method == 0..<3 && head.target == 4..<10)
        #expect(fields == ["Host=h.test", "X-Pad=v w", "X-Empty="])
        #expect(!head.asksToClose)
        #expect(try #require(recognise("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, CLOSE\r\n\r\n")).0.asksToClose)
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\nHost: h\r\n",                          // incomplete
        "GET / HTTP/1.0\r\nHost: h\r\n\r\n",                      // HTTP/1.0
        "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",              // absolute form
        "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",                  // asterisk form
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", // a declared body, even empty
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",                                 // no Host
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",           // two
        "GET / HTTP/1.1\r\nHost: h\r\nX-A: caf\u{E9}\r\n\r\n",    // above 0x7E
        "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
        "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",                  // a leading empty line (the parser's to skip)
        "GET / HTTP/1.1\nHost: h\n\n",
    ])
    func leavesEverythingElseToTheParser(_ text: String) {
        #expect(recognise(text) == nil, "\(text.debugDescription)")
        #expect(SimpleHeadCheck.check(Array(text.utf8), limits: HTTPParserLimits()).problem == nil)
    }

    @Test func staysInsideEveryParserLimit() {
        let limits = HTTPParserLimits(maxRequestLineBytes: 20, maxHeaderBytes: 60, maxHeaderCount: 3)
        #expect(recognise("GET /12345 HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits) != nil)
        #expect(recognise("GET /1234567890 HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits) == nil, "request line at the limit")
        #expect(recognise("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits) == nil, "field count at the limit")
        #expect(recognise("GET / HTTP/1.1\r\nHost: h\r\nA: " + String(repeating: "v", count: 40) + "\r\n\r\n", limits: limits) == nil)
    }

    /// Generated heads, valid and not: the recogniser never takes one the parser would read
    /// differently, and it does take the simple ones (so the check compares something).
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func agreesWithTheParserOnGeneratedHeads(seed: UInt64) {
        var generator = HeadGenerator(random: DeterministicRandom(seed: seed))
        let tiny = HTTPParserLimits(maxRequestLineBytes: 24, maxHeaderBytes: 80, maxHeaderCount: 4)
        var recognised = 0
        var declined = 0
        for index in 0..<5_000 {
            let input = generator.next()
            let outcome = SimpleHeadCheck.check(input, limits: index % 4 == 0 ? tiny : HTTPParserLimits())
            if let problem = outcome.problem {
                Issue.record("seed \(seed) input #\(index) \(String(decoding: input, as: UTF8.self).debugDescription): \(problem)")
                return
            }
            if outcome.recognised { recognised += 1 } else { declined += 1 }
        }
        #expect(recognised > 500 && declined > 500, "recognised \(recognised), declined \(declined)")
    }
}
