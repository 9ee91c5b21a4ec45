import Synchronization
import Testing
@testable import DiscoDNS

@Suite struct DNSCacheTests {
    /// Answers from a script and counts the questions that reach it.
    final class Counting: DNSQuerying {
        let asked = Mutex(0)
        let answer: @Sendable (DNSQuestion) -> DNSMessage
        init(_ answer: @escaping @Sendable (DNSQuestion) -> DNSMessage) { self.answer = answer }
        var serverDescription: String { "stub" }
        func exchange(_ question: DNSQuestion) async throws(DNSLookupError) -> DNSMessage {
            asked.withLock { $0 += 1 }
            return answer(question)
        }
    }

    static func message(_ question: DNSQuestion, ttl: UInt32, glueTTL: UInt32? = nil, rcode: UInt16 = 0) -> DNSMessage {
        let address = DNSIPAddress(bytes: [10, 0, 0, 1]).map(DNSRecordData.address) ?? .other([])
        let answers = rcode == 0 ? [DNSResourceRecord(name: question.name, type: .a, ttl: ttl, data: address)] : []
        let glue = glueTTL.map { [DNSResourceRecord(name: question.name, type: .a, ttl: $0, data: address)] } ?? []
        return DNSMessage(header: DNSHeader(id: 1, flags: 0x8180 | rcode), questions: [question], answers: answers, additional: glue)
    }

    /// Time that moves only when the test says so.
    final class FakeClock: Sendable {
        let instant = Mutex(ContinuousClock.now)
    }

    let clock = FakeClock()
    func advance(_ seconds: Int64) { clock.instant.withLock { $0 += .seconds(seconds) } }
    func cache(_ base: Counting) -> DNSCache { DNSCache(wrapping: base, now: { [clock] in clock.instant.withLock { $0 } }) }

    @Test func keepsAnswersUntilTheirTTLRunsOut() async throws {
        let base = Counting { Self.message($0, ttl: 30) }
        let cache = cache(base)
        let question = DNSQuestion(name: try DNSName(parsing: "n.disco.test"), type: .a)
        _ = try await cache.exchange(question)
        advance(29)
        _ = try await cache.exchange(DNSQuestion(name: try DNSName(parsing: "N.DISCO.TEST"), type: .a))
        #expect(base.asked.withLock { $0 } == 1, "the same question (any case) within the TTL is answered from the cache")
        advance(1)
        _ = try await cache.exchange(question)
        #expect(base.asked.withLock { $0 } == 2, "expired at the TTL")
    }

    @Test func theShortestTTLIncludingGlueWins() async throws {
        let base = Counting { Self.message($0, ttl: 300, glueTTL: 5) }
        let cache = cache(base)
        let question = DNSQuestion(name: try DNSName(parsing: "n.disco.test"), type: .a)
        _ = try await cache.exchange(question)
        advance(5)
        _ = try await cache.exchange(question)
        #expect(base.asked.withLock { $0 } == 2)
    }

    @Test func neverKeepsZeroTTLErrorsOrEmptyAnswers() async throws {
        for (ttl, rcode) in [(UInt32(0), UInt16(0)), (60, 3), (60, 2)] {
            let base = Counting { Self.message($0, ttl: ttl, rcode: rcode) }
            let cache = cache(base)
            let question = DNSQuestion(name: try DNSName(parsing: "n.disco.test"), type: .a)
            _ = try await cache.exchange(question)
            _ = try await cache.exchange(question)
            #expect(base.asked.withLock { $0 } == 2, "ttl \(ttl) rcode \(rcode)")
            #expect(cache.count == 0)
        }
    }
}
