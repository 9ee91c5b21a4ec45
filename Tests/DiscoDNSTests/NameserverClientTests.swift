import DiscoTestKit
import Synchronization
import Testing
@testable import DiscoDNS

/// The UDP/TCP client against a scripted server: the cases a well-behaved dnsmasq never shows.
@Suite struct NameserverClientTests {
    /// For a server expected to stay silent: a test that waits out its timeouts stays short.
    static let quick = DNSClientOptions(timeoutPerTry: .milliseconds(300), tries: 2)
    /// For a server expected to answer: generous, so a loaded machine cannot turn an answer
    /// into a timeout.
    static let patient = DNSClientOptions(timeoutPerTry: .seconds(10), tries: 2)

    func address(_ bytes: [UInt8], owner: String) throws -> DNSResourceRecord {
        DNSResourceRecord(name: try DNSName(parsing: owner), type: bytes.count == 4 ? .a : .aaaa, ttl: 30, data: .address(try #require(DNSIPAddress(bytes: bytes))))
    }

    @Test func ignoresAnswersWithAnotherIDAndTakesTheRightOne() async throws {
        let record = try address([10, 0, 0, 9], owner: "n.disco.test")
        let server = try ScriptedDNSServer(udp: { query in
            [reply(to: query, id: query.header.id &+ 1, answers: [record]), reply(to: query, answers: [record])]
        })
        defer { server.stop() }
        let resolver = DNSResolver(querier: try NameserverClient(nameserver: server.nameserver, options: Self.patient))
        let answer = try await resolver.lookup(try DNSName(parsing: "n.disco.test"), type: .a)
        #expect(answer.records == [record])
    }

    @Test(arguments: [(UInt8(2), DNSLookupError.Code.serverFailure), (5, .queryRefused), (4, .errorResponse), (3, .nameDoesNotExist)])
    func mapsResponseCodesToErrors(rcode: UInt8, code: DNSLookupError.Code) async throws {
        let server = try ScriptedDNSServer(udp: { [reply(to: $0, rcode: rcode)] })
        defer { server.stop() }
        let resolver = DNSResolver(querier: try NameserverClient(nameserver: server.nameserver, options: Self.patient))
        let error = try await #require(throws: DNSLookupError.self) { try await resolver.lookup(try DNSName(parsing: "n.disco.test"), type: .a) }
        #expect(error.code == code)
        #expect(error.server == server.nameserver)
        #expect(error.question == "A n.disco.test")
    }

    /// The right ID and QR bit, then an answer count with no answer behind it.
    static func unreadable(_ query: DNSMessage) -> [UInt8] {
        var bytes = reply(to: query)
        bytes[7] = 1
        return bytes
    }

    @Test func reportsMalformedAnswersWithWhatWasWrong() async throws {
        let server = try ScriptedDNSServer(udp: { [Self.unreadable($0)] })
        defer { server.stop() }
        // Every try waits out its deadline; long enough that a loaded machine still gets the
        // unreadable reply in (a try that saw none would make this a timeout).
        let client = try NameserverClient(nameserver: server.nameserver, options: DNSClientOptions(timeoutPerTry: .seconds(2), tries: 2))
        let error = try await #require(throws: DNSLookupError.self) {
            try await client.exchange(DNSQuestion(name: try DNSName(parsing: "n.disco.test"), type: .a))
        }
        #expect(error.code == .malformedAnswer)
        #expect(error.description.contains("answer record 1"), "\(error)")
        #expect(error.description.contains("runs past the end of the message"), "\(error)")
        #expect(error.description.contains("no valid answer came in 2 tries"), "\(error)")
        #expect(server.queries.withLock { $0.count } == 2, "an unreadable reply is noise: every try waits out its deadline")
    }

    @Test func dropsUnreadableAndMismatchedRepliesWithTheQueryIDAndTakesTheRealAnswer() async throws {
        let record = try address([10, 0, 0, 7], owner: "n.disco.test")
        let other = DNSQuestion(name: try DNSName(parsing: "other.disco.test"), type: .a)
        let server = try ScriptedDNSServer(udp: { query in
            var elsewhere = query
            elsewhere.questions = [other]
            return [Self.unreadable(query), reply(to: elsewhere, answers: [record]), reply(to: query, answers: [record])]
        })
        defer { server.stop() }
        let client = try NameserverClient(nameserver: server.nameserver, options: Self.patient)
        let answer = try await client.exchange(DNSQuestion(name: try DNSName(parsing: "n.disco.test"), type: .a))
        #expect(answer.answers == [record])
        #expect(server.queries.withLock { $0.count } == 1, "the answer came in the first try")
    }

    @Test func repliesFromAnotherAddressOrPortAreIgnored() async throws {
        let record = try address([10, 0, 0, 8], owner: "n.disco.test")
        let forged = try address([10, 6, 6, 6], owner: "n.disco.test")
        let question = DNSQuestion(name: try DNSName(parsing: "n.disco.test"), type: .a)
        // Forged answers alone: nothing is taken from them.
        let silent = try ScriptedDNSServer(udp: { _ in [] }, strangers: { [reply(to: $0, answers: [forged])] })
        defer { silent.stop() }
        let error = try await #require(throws: DNSLookupError.self) {
            try await NameserverClient(nameserver: silent.nameserver, options: Self.quick).exchange(question)
        }
        #expect(error.code == .timeout, "\(error)")
        // Forged answers sent first, then the server's own: the server's is the one taken.
        let server = try ScriptedDNSServer(udp: { [reply(to: $0, answers: [record])] }, strangers: { [reply(to: $0, answers: [forged])] })
        defer { server.stop() }
        let answer = try await NameserverClient(nameserver: server.nameserver, options: Self.patient).exchange(question)
        #expect(answer.answers == [record])
    }

    @Test func retriesOverTCPWhenTheAnswerIsTruncated() async throws {
        let record = try address([10, 0, 0, 1], owner: "n.disco.test")
        let server = try ScriptedDNSServer(
            udp: { query in [Array(reply(to: query, truncated: true, answers: [record]).prefix(20))] },
            tcp: { query in [reply(to: query, answers: [record])] })
        defer { server.stop() }
        let resolver = DNSResolver(querier: try NameserverClient(nameserver: server.nameserver, options: Self.patient))
        let answer = try await resolver.lookup(try DNSName(parsing: "n.disco.test"), type: .a)
        #expect(answer.records == [record])
        #expect(server.queries.withLock { $0.map(\.transport) } == ["udp", "tcp"])
    }

    @Test func timesOutAfterEveryTryWithAFreshID() async throws {
        let server = try ScriptedDNSServer(udp: { _ in [] })
        defer { server.stop() }
        let ids = Mutex<UInt16>(100)
        var options = Self.quick
        options.idGenerator = { ids.withLock { $0 += 1; return $0 } }
        let client = try NameserverClient(nameserver: server.nameserver, options: options)
        let error = try await #require(throws: DNSLookupError.self) {
            try await client.exchange(DNSQuestion(name: try DNSName(parsing: "n.disco.test"), type: .aaaa))
        }
        #expect(error.code == .timeout)
        #expect(error.description.contains(server.nameserver))
        #expect(error.description.contains("2 tries"))
        #expect(error.description.contains("AAAA n.disco.test"))
        #expect(server.queries.withLock { $0.map(\.message.header.id) } == [101, 102])
    }

    @Test func reportsConnectionRefusedWhenNothingListens() async throws {
        let port = try FreePort.loopback()
        let client = try NameserverClient(nameserver: "127.0.0.1:\(port)", options: Self.patient)
        let error = try await #require(throws: DNSLookupError.self) {
            try await client.exchange(DNSQuestion(name: try DNSName(parsing: "n.disco.test"), type: .a))
        }
        #expect(error.code == .connectionRefused)
        #expect(error.server == "127.0.0.1:\(port)")
    }

    @Test func followsACNAMEThatLeavesTheAnswerByAskingAgain() async throws {
        let alias = try DNSName(parsing: "db.disco.test")
        let target = try DNSName(parsing: "n2.disco.test")
        let record = try address([10, 0, 0, 2], owner: "n2.disco.test")
        let server = try ScriptedDNSServer(udp: { query in
            if query.questions.first?.name == alias {
                return [reply(to: query, answers: [DNSResourceRecord(name: alias, type: .cname, ttl: 30, data: .cname(target))])]
            }
            return [reply(to: query, answers: [record])]
        })
        defer { server.stop() }
        let resolver = DNSResolver(querier: try NameserverClient(nameserver: server.nameserver, options: Self.patient))
        let answer = try await resolver.lookup(alias, type: .a)
        #expect(answer.canonicalName == target)
        #expect(answer.records == [record])
    }

    @Test func rejectsCNAMELoops() async throws {
        let a = try DNSName(parsing: "a.disco.test")
        let b = try DNSName(parsing: "b.disco.test")
        let server = try ScriptedDNSServer(udp: { query in
            [reply(to: query, answers: [
                DNSResourceRecord(name: a, type: .cname, ttl: 30, data: .cname(b)),
                DNSResourceRecord(name: b, type: .cname, ttl: 30, data: .cname(a)),
            ])]
        })
        defer { server.stop() }
        let resolver = DNSResolver(querier: try NameserverClient(nameserver: server.nameserver, options: Self.patient))
        let error = try await #require(throws: DNSLookupError.self) { try await resolver.lookup(a, type: .a) }
        #expect(error.code == .cnameLoop)
    }

    @Test func queriesCarryEDNSUnlessTurnedOff() async throws {
        let record = try address([10, 0, 0, 4], owner: "n.disco.test")
        let server = try ScriptedDNSServer(udp: { [reply(to: $0, answers: [record])] })
        defer { server.stop() }
        let question = DNSQuestion(name: try DNSName(parsing: "n.disco.test"), type: .a)
        _ = try await NameserverClient(nameserver: server.nameserver, options: Self.patient).exchange(question)
        var plain = Self.patient
        plain.ednsPayloadSize = nil
        _ = try await NameserverClient(nameserver: server.nameserver, options: plain).exchange(question)
        #expect(server.queries.withLock { $0.map(\.message.edns?.udpPayloadSize) } == [1232, nil])
    }

    @Test func aServerWithoutEDNSIsAskedAgainPlainly() async throws {
        let record = try address([10, 0, 0, 5], owner: "n.disco.test")
        // Answers FORMERR, without an OPT record, to any query that has one (RFC 6891 §7).
        let server = try ScriptedDNSServer(udp: { query in
            [query.edns == nil ? reply(to: query, answers: [record]) : reply(to: query, rcode: 1)]
        })
        defer { server.stop() }
        let resolver = DNSResolver(querier: try NameserverClient(nameserver: server.nameserver, options: Self.patient))
        let answer = try await resolver.lookup(try DNSName(parsing: "n.disco.test"), type: .a)
        #expect(answer.records == [record])
        #expect(server.queries.withLock { $0.map { $0.message.edns != nil } } == [true, false])
    }

    @Test(arguments: ["dns.example:53", "10.0.0.1:0", "10.0.0.1:99999", ""])
    func rejectsNameserversThatAreNotIPAndPort(_ text: String) {
        let error = #expect(throws: DNSConfigurationError.self) { try NameserverClient(nameserver: text) }
        #expect(error?.field == "nameserver")
    }

    @Test func acceptsIPv6AndDefaultPort() throws {
        #expect(try NameserverClient(nameserver: "[::1]:5353").serverDescription == "[::1]:5353")
        #expect(try NameserverClient(nameserver: "127.0.0.1").serverDescription == "127.0.0.1:53")
    }
}
