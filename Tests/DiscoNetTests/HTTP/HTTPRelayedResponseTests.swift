import DiscoCore
@testable import DiscoNet
import Testing

@Suite("Upstream responses relayed whole, as bytes")
struct HTTPRelayedResponseTests {
    /// Keeps every field but `Date` (as the proxy's filter does with the server's own date).
    private static let filter = HTTPRelayFilter(maxBody: 1 << 16) { name in
        !(name.count == 4 && String(decoding: name, as: UTF8.self).lowercased() == "date")
    }

    private func recognise(_ text: String) -> HTTPRelayedResponse? {
        HTTPRelayedResponse.recognise(Array(text.utf8), limits: HTTPParserLimits(), filter: Self.filter)
    }

    @Test func keptFieldsAsSentAreReferencedInRunsAndComeOutInOrder() throws {
        let relayed = try #require(recognise(
            "HTTP/1.1 200 OK\r\nServer: up\r\nDate: Sat, 05 Dec 2026 10:00:00 GMT\r\nContent-Type: text/plain\r\n"
                + "Content-Length: 2\r\nETag: \"x\"\r\n\r\nok"))
        #expect(relayed.rewrittenFields == nil)
        #expect(relayed.fieldRuns.count == 3)
        #expect(String(decoding: relayed.encodedFields, as: UTF8.self) == "Server: up\r\nContent-Type: text/plain\r\nETag: \"x\"\r\n")
        #expect(relayed.fieldsCount == relayed.encodedFields.count)
        #expect(Array(relayed.body) == Array("ok".utf8))
        #expect(relayed.status == 200 && relayed.reason == "OK")
    }

    @Test func aBareLineFeedAnywhereInTheHeadIsNotRelayed() {
        for text in [
            "HTTP/1.1 200 O\nK\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 200\n\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nA: x\ny\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 200 OK\r\nA\n: y\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nA: y \n\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 200 OK\r\n\nA: y\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\n\r\nok", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\n\r\nok",
        ] {
            #expect(recognise(text) == nil, "\(text.debugDescription)")
        }
    }

    @Test func fieldsNotInTheirSentFormAreRewrittenWithTheOthersInOrder() throws {
        let relayed = try #require(recognise(
            "HTTP/1.1 201 Created\r\nA: 1\r\nB:2\r\nC:   3  \r\nContent-Length: 0\r\nD: 4\r\n\r\n"))
        #expect(relayed.rewrittenFields != nil)
        #expect(String(decoding: relayed.encodedFields, as: UTF8.self) == "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n")
        #expect(relayed.body.isEmpty)
    }

    @Test func moreScatteredFieldsThanRunsAreRewritten() throws {
        var text = "HTTP/1.1 200 OK\r\n"
        var expected = ""
        for index in 0..<6 {
            text += "X-\(index): v\(index)\r\nDate: d\r\n"
            expected += "X-\(index): v\(index)\r\n"
        }
        text += "Content-Length: 1\r\n\r\n!"
        let relayed = try #require(recognise(text))
        #expect(relayed.rewrittenFields != nil)
        #expect(String(decoding: relayed.encodedFields, as: UTF8.self) == expected)
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nX: caf\u{e9}\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok",
    ])
    func responsesTheGeneralParserMustSeeAreNotRelayed(_ text: String) {
        #expect(recognise(text) == nil)
    }

    /// Random heads: whenever a response is relayed, its fields are exactly the kept fields with
    /// trimmed values, in order, whichever way they were stored.
    @Test func relayedFieldsMatchTheKeptFieldsForRandomHeads() {
        var random = DeterministicRandom(seed: 7)
        let names = ["Server", "Date", "Content-Type", "ETag", "Cache-Control", "X-Trace", "Vary"]
        let spacings = [("", ""), (" ", ""), ("  ", " "), ("\t", "")]
        for _ in 0..<2_000 {
            var text = "HTTP/1.1 200 OK\r\n"
            var expected = ""
            let fieldCount = Int(random.next() % 12)
            let lengthAt = Int(random.next() % UInt64(fieldCount + 1))
            for index in 0...fieldCount {
                if index == lengthAt { text += "Content-Length: 3\r\n" }
                guard index < fieldCount else { break }
                let name = names[Int(random.next() % UInt64(names.count))]
                let (before, after) = spacings[Int(random.next() % UInt64(spacings.count))]
                let value = "v\(random.next() % 100)"
                text += "\(name):\(before)\(value)\(after)\r\n"
                if name != "Date" { expected += "\(name): \(value)\r\n" }
            }
            text += "\r\nabc"
            guard let relayed = recognise(text) else {
                Issue.record("not relayed: \(text.debugDescription)")
                return
            }
            #expect(String(decoding: relayed.encodedFields, as: UTF8.self) == expected, "\(text.debugDescription)")
            #expect(relayed.fieldsCount == relayed.encodedFields.count)
            #expect(Array(relayed.body) == Array("abc".utf8))
        }
    }
}
